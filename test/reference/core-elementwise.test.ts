import { describe, expect, test } from 'vitest';
import * as R from '../../src/reference/index.ts';
import { expectND } from './helpers.ts';

describe('core', () => {
  test('nd builds zeros, copies data and rejects a length mismatch', () => {
    expectND(R.nd([2, 2]), [2, 2], [0, 0, 0, 0]);
    const src = [1, 2, 3];
    const a = R.nd([3], src);
    src[0] = 9;
    expect(a.data[0]).toBe(1);
    expect(() => R.nd([2, 2], [1, 2, 3])).toThrow(/length 3/);
    expect(R.numel([2, 3, 4])).toBe(24);
    expect(R.numel([])).toBe(1);
  });

  test('broadcastShapes follows numpy and names both shapes on failure', () => {
    expect(R.broadcastShapes([3, 1, 5], [4, 1])).toEqual([3, 4, 5]);
    expect(R.broadcastShapes([], [2, 3])).toEqual([2, 3]);
    expect(R.broadcastShapes([0, 1], [1, 4])).toEqual([0, 4]);
    expect(() => R.broadcastShapes([2, 3], [4, 3])).toThrow(/\[2, 3\].*\[4, 3\]/);
  });
});

describe('elementwise', () => {
  test('binary ops broadcast rows against columns and accept numbers', () => {
    const col = R.nd([2, 1], [10, 20]);
    const row = R.nd([3], [1, 2, 3]);
    expectND(R.add(col, row), [2, 3], [11, 12, 13, 21, 22, 23]);
    expectND(R.sub(row, col), [2, 3], [-9, -8, -7, -19, -18, -17]);
    expectND(R.mul(2, row), [3], [2, 4, 6]);
    expectND(R.div(row, 2), [3], [0.5, 1, 1.5]);
    expectND(R.pow(row, 2), [3], [1, 4, 9]);
    expectND(R.maximum(row, R.nd([1], [2])), [3], [2, 2, 3]);
    expectND(R.minimum(row, 2), [3], [1, 2, 2]);
  });

  test('comparisons return 1/0 and where picks by nonzero condition', () => {
    const a = R.nd([4], [1, 2, 3, NaN]);
    expectND(R.eq(a, 2), [4], [0, 1, 0, 0]);
    expectND(R.ne(a, 2), [4], [1, 0, 1, 1]);
    expectND(R.lt(a, 2), [4], [1, 0, 0, 0]);
    expectND(R.le(a, 2), [4], [1, 1, 0, 0]);
    expectND(R.gt(a, 2), [4], [0, 0, 1, 0]);
    expectND(R.ge(a, 2), [4], [0, 1, 1, 0]);
    expectND(R.where(R.nd([2, 1], [1, 0]), R.nd([3], [1, 2, 3]), -1), [2, 3], [1, 2, 3, -1, -1, -1]);
  });

  test('clamp with either bound optional; NaN passes through', () => {
    const x = R.nd([4], [-2, 0.5, 3, NaN]);
    expectND(R.clamp(x, 0, 1), [4], [0, 0.5, 1, NaN]);
    expectND(R.clamp(x, undefined, 1), [4], [-2, 0.5, 1, NaN]);
    expectND(R.clamp(x, 0), [4], [0, 0.5, 3, NaN]);
  });

  test('unary ops', () => {
    const x = R.nd([3], [-4, 1, 4]);
    expectND(R.abs(x), [3], [4, 1, 4]);
    expectND(R.neg(x), [3], [4, -1, -4]);
    expectND(R.sign(R.nd([3], [-2, 0, 5])), [3], [-1, 0, 1]);
    expectND(R.square(x), [3], [16, 1, 16]);
    expectND(R.reciprocal(x), [3], [-0.25, 1, 0.25]);
    expectND(R.sqrt(R.nd([2], [4, 9])), [2], [2, 3]);
    expectND(R.rsqrt(R.nd([2], [4, 16])), [2], [0.5, 0.25]);
    expectND(R.log(R.exp(x)), [3], [-4, 1, 4], 1e-15);
    expectND(R.relu(x), [3], [0, 1, 4]);
    expectND(R.leakyRelu(x, 0.1), [3], [-0.4, 1, 4], 1e-15);
  });
});

describe('activations', () => {
  test('erf matches tabulated values to ~1e-15', () => {
    const table: [number, number][] = [
      [0, 0],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [2.9, 0.9999589021219005],
      [3.5, 0.9999992569016276],
      [-1.5, -0.9661051464753108],
    ];
    for (const [x, e] of table) expect(Math.abs(R.erf(x) - e), `erf(${x})`).toBeLessThan(2e-15);
    // erfc(4) = 1.541725790028002e-8: tests the continued-fraction branch beyond its leading digits.
    expect(Math.abs(1 - R.erf(4) - 1.541725790028002e-8)).toBeLessThan(1e-16);
    expect(R.erf(10)).toBe(1);
    expect(R.erf(-Infinity)).toBe(-1);
  });

  test('gelu forms, sigmoid saturation and softplus threshold', () => {
    const x = R.nd([3], [-1, 0, 1]);
    expectND(R.gelu(x), [3], [-0.15865525393145707, 0, 0.8413447460685429], 1e-15);
    expectND(R.geluTanh(x), [3], [-0.15880800939172324, 0, 0.8411919906082768], 1e-15);
    expectND(R.quickGelu(R.nd([1], [1])), [1], [1 / (1 + Math.exp(-1.702))], 1e-15);
    expectND(R.silu(R.nd([1], [2])), [1], [2 / (1 + Math.exp(-2))], 1e-15);
    expectND(R.mish(R.nd([1], [1])), [1], [Math.tanh(Math.log1p(Math.E))], 1e-15);
    expectND(R.sigmoid(R.nd([2], [-800, 800])), [2], [0, 1]);
    expectND(R.softplus(R.nd([3], [-800, 0, 30])), [3], [0, Math.LN2, 30]);
    expectND(R.softplus(R.nd([1], [15]), 2), [1], [15]);
  });
});
