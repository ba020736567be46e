import { describe, expect, test } from 'vitest';
import * as R from '../../src/reference/index.ts';
import { expectND, range } from './helpers.ts';

const iota = (shape: number[]) => R.nd(shape, range(R.numel(shape)));

describe('reshape / permute / transpose', () => {
  test('reshape infers one -1 and rejects bad sizes', () => {
    expect(R.reshape(iota([2, 3, 4]), [4, -1]).shape).toEqual([4, 6]);
    expect(() => R.reshape(iota([2, 3]), [-1, -1])).toThrow();
    expect(() => R.reshape(iota([2, 3]), [4, -1])).toThrow();
    expect(() => R.reshape(iota([2, 3]), [5])).toThrow();
  });

  test('permute and transpose move data', () => {
    const x = iota([2, 3]);
    expectND(R.transpose(x, 0, 1), [3, 2], [0, 3, 1, 4, 2, 5]);
    const y = R.permute(iota([2, 3, 4]), [2, 0, 1]);
    expect(y.shape).toEqual([4, 2, 3]);
    // y[k, i, j] = x[i, j, k] = 12i + 4j + k
    expect(y.data[1 * 6 + 1 * 3 + 2]).toBe(12 + 8 + 1);
    expect(R.transpose(iota([2, 3, 4]), -1, -2).shape).toEqual([2, 4, 3]);
    expect(() => R.permute(x, [0, 0])).toThrow();
  });
});

describe('slice', () => {
  const x = iota([10]);
  test('python semantics: steps, negatives, clamping, empty', () => {
    expectND(R.slice(x, [[1, 8, 3]]), [3], [1, 4, 7]);
    expectND(R.slice(x, [[-3]]), [3], [7, 8, 9]);
    expectND(R.slice(x, [[undefined, -7]]), [3], [0, 1, 2]);
    expectND(R.slice(x, [[-100, 100, 4]]), [3], [0, 4, 8]);
    expectND(R.slice(x, [[8, 2]]), [0], []);
    expectND(R.slice(x, [[12, 15]]), [0], []);
    expectND(R.slice(x, [[undefined, undefined, 20]]), [1], [0]);
    expect(() => R.slice(x, [[0, 5, -1]])).toThrow();
  });

  test('multi-dim specs; null or missing keeps the dim', () => {
    const m = iota([3, 4]);
    expectND(R.slice(m, [null, [1, undefined, 2]]), [3, 2], [1, 3, 5, 7, 9, 11]);
    expectND(R.slice(m, [[-1]]), [1, 4], [8, 9, 10, 11]);
  });

  test('narrow and chunk (torch chunk sizes)', () => {
    expectND(R.narrow(iota([2, 5]), 1, 1, 2), [2, 2], [1, 2, 6, 7]);
    expect(R.chunk(iota([5]), 2).map((c) => c.shape[0])).toEqual([3, 2]);
    expect(R.chunk(iota([6]), 4).map((c) => c.shape[0])).toEqual([2, 2, 2]);
  });
});

describe('concat / stack / squeeze / unsqueeze / flip', () => {
  test('concat along inner and outer axes', () => {
    const a = iota([2, 2]);
    const b = R.nd([2, 1], [9, 9]);
    expectND(R.concat([a, b], 1), [2, 3], [0, 1, 9, 2, 3, 9]);
    expectND(R.concat([a, R.nd([1, 2], [7, 8])], 0), [3, 2], [0, 1, 2, 3, 7, 8]);
    expect(() => R.concat([a, R.nd([3, 1])], 1)).toThrow();
  });

  test('stack inserts a new axis', () => {
    const s = R.stack([R.nd([2], [1, 2]), R.nd([2], [3, 4])], -1);
    expectND(s, [2, 2], [1, 3, 2, 4]);
  });

  test('squeeze all or listed size-1 dims; unsqueeze with negatives', () => {
    const x = R.nd([1, 3, 1, 2]);
    expect(R.squeeze(x).shape).toEqual([3, 2]);
    expect(R.squeeze(x, 2).shape).toEqual([1, 3, 2]);
    expect(R.squeeze(x, 1).shape).toEqual([1, 3, 1, 2]);
    expect(R.unsqueeze(R.nd([3, 2]), -1).shape).toEqual([3, 2, 1]);
    expect(R.unsqueeze(R.nd([3, 2]), 0).shape).toEqual([1, 3, 2]);
  });

  test('flip reverses listed axes', () => {
    expectND(R.flip(iota([2, 3]), 1), [2, 3], [2, 1, 0, 5, 4, 3]);
    expectND(R.flip(iota([2, 3]), [0, 1]), [2, 3], [5, 4, 3, 2, 1, 0]);
  });
});

describe('pad', () => {
  const x = iota([2, 3]);
  test('last dim first, with value', () => {
    expectND(R.pad(x, [1, 0]), [2, 4], [0, 0, 1, 2, 0, 3, 4, 5]);
    expectND(R.pad(x, [0, 1, 1, 0], -1), [3, 4], [-1, -1, -1, -1, 0, 1, 2, -1, 3, 4, 5, -1]);
  });
  test('negative pads crop, mixed with positive', () => {
    expectND(R.pad(x, [-1, 1]), [2, 3], [1, 2, 0, 4, 5, 0]);
    expectND(R.pad(x, [0, 0, -1, 0]), [1, 3], [3, 4, 5]);
    expect(() => R.pad(x, [-4, 0])).toThrow();
    expect(() => R.pad(x, [1])).toThrow();
  });
});

describe('broadcastTo / gather / indexSelect', () => {
  test('broadcastTo and expand', () => {
    expectND(R.broadcastTo(R.nd([2, 1], [1, 2]), [2, 2, 3]), [2, 2, 3], [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2]);
    expect(R.expand).toBe(R.broadcastTo);
    expect(() => R.broadcastTo(R.nd([2]), [3])).toThrow();
  });

  test('gather follows torch.gather, index smaller than input off the axis', () => {
    const x = iota([3, 4]);
    expectND(R.gather(x, 1, R.nd([2, 2], [3, 0, 1, 1])), [2, 2], [3, 0, 5, 5]);
    expectND(R.gather(x, 0, R.nd([1, 3], [2, 0, 1])), [1, 3], [8, 1, 6]);
    expect(() => R.gather(x, 1, R.nd([1, 1], [4]))).toThrow(/out of range/);
  });

  test('indexSelect with list or NDArray, repeats allowed', () => {
    const x = iota([3, 2]);
    expectND(R.indexSelect(x, 0, [2, 0, 2]), [3, 2], [4, 5, 0, 1, 4, 5]);
    expectND(R.indexSelect(x, -1, R.nd([1], [1])), [3, 1], [1, 3, 5]);
    expect(R.indexSelect(x, 0, []).shape).toEqual([0, 2]);
  });
});
