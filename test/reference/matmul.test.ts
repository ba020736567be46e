import { describe, expect, test } from 'vitest';
import * as R from '../../src/reference/index.ts';
import { expectND, range } from './helpers.ts';

const iota = (shape: number[]) => R.nd(shape, range(R.numel(shape)));

describe('matmul', () => {
  test('2-D product', () => {
    expectND(R.matmul(R.nd([2, 2], [1, 2, 3, 4]), R.nd([2, 2], [5, 6, 7, 8])), [2, 2], [19, 22, 43, 50]);
  });

  test('1-D operands: dot, vector-matrix, matrix-vector, batched', () => {
    const v = R.nd([3], [1, 2, 3]);
    expectND(R.matmul(v, v), [], [14]);
    expectND(R.matmul(v, iota([3, 2])), [2], [16, 22]);
    expectND(R.matmul(iota([2, 3]), v), [2], [8, 26]);
    expect(R.matmul(v, iota([4, 3, 5])).shape).toEqual([4, 5]);
    expect(R.matmul(iota([4, 2, 3]), v).shape).toEqual([4, 2]);
  });

  test('batch dims broadcast', () => {
    const a = iota([2, 1, 2, 3]);
    const b = iota([3, 3, 1]);
    const out = R.matmul(a, b);
    expect(out.shape).toEqual([2, 3, 2, 1]);
    // out[1, 2, 0, 0] = a[1, 0, 0, :] · b[2, :, 0] = [6, 7, 8] · [6, 7, 8]
    expect(out.data[(1 * 3 + 2) * 2]).toBe(36 + 49 + 64);
    expect(() => R.matmul(iota([2, 3]), iota([2, 3]))).toThrow(/do not align/);
    expect(() => R.matmul(iota([2, 2, 2]), iota([3, 2, 2]))).toThrow(/broadcast/);
  });

  test('linear is x wᵀ + b', () => {
    const x = R.nd([1, 2], [1, 2]);
    const w = R.nd([3, 2], [1, 0, 0, 1, 1, 1]);
    expectND(R.linear(x, w, R.nd([3], [10, 20, 30])), [1, 3], [11, 22, 33]);
    expectND(R.linear(x, w), [1, 3], [1, 2, 3]);
  });
});
