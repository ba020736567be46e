import { describe, expect, test } from 'vitest';
import * as R from '../../src/reference/index.ts';
import { expectND, range } from './helpers.ts';

const iota = (shape: number[]) => R.nd(shape, range(R.numel(shape)));
const ones = (shape: number[]) => R.nd(shape, new Array(R.numel(shape)).fill(1));
const pseudoRandom = (shape: number[], seed: number) =>
  R.nd(shape, range(R.numel(shape)).map((i) => Math.sin(seed * 1000 + i * 12.9898) * 0.5));
const inner = (a: R.NDArray, b: R.NDArray) => a.data.reduce((s, v, i) => s + v * b.data[i], 0);

describe('conv2d / convTranspose2d', () => {
  test('four-sided padding is [top, bottom, left, right]', () => {
    const out = R.conv2d(ones([1, 1, 2, 2]), ones([1, 1, 1, 1]), null, { padding: [1, 0, 0, 2] });
    expectND(out, [1, 1, 3, 4], [0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
  });

  test('3x3 box filter with bias, stride and [h, w] padding', () => {
    const out = R.conv2d(ones([1, 1, 4, 4]), ones([1, 1, 3, 3]), R.nd([1], [0.5]), { stride: 2, padding: [1, 0] });
    // rows: padded above; columns: no padding → 2x1 output
    expectND(out, [1, 1, 2, 1], [6.5, 9.5]);
  });

  test('conv_transpose2d is the adjoint of conv2d (stride, padding, dilation, groups)', () => {
    const x = pseudoRandom([2, 4, 8, 6], 1);
    const w = pseudoRandom([6, 2, 3, 2], 2);
    const opts = { stride: [2, 1] as [number, number], padding: [1, 2] as [number, number], dilation: [2, 1] as [number, number], groups: 2 };
    const y = R.conv2d(x, w, null, opts);
    const g = pseudoRandom(y.shape, 3);
    // output padding recovers the rows that the forward stride dropped
    const back = R.convTranspose2d(g, w, null, { ...opts, outputPadding: [1, 0] });
    expect(back.shape).toEqual(x.shape);
    expect(Math.abs(inner(y, g) - inner(x, back))).toBeLessThan(1e-12);
  });

  test('shape errors are reported', () => {
    expect(() => R.conv2d(ones([1, 3, 4, 4]), ones([2, 2, 3, 3]), null)).toThrow(/disagree/);
    expect(() => R.conv2d(ones([1, 1, 2, 2]), ones([1, 1, 3, 3]), null)).toThrow(/not positive/);
    expect(() => R.convTranspose2d(ones([1, 1, 2, 2]), ones([1, 1, 3, 3]), null, { stride: 2, outputPadding: 2 })).toThrow();
  });
});

describe('pooling', () => {
  test('avgPool2d with padding: countIncludePad true vs false', () => {
    const x = ones([1, 1, 2, 2]);
    expectND(R.avgPool2d(x, 2, 1, 1), [1, 1, 3, 3], [0.25, 0.5, 0.25, 0.5, 1, 0.5, 0.25, 0.5, 0.25]);
    expectND(R.avgPool2d(x, 2, 1, 1, { countIncludePad: false }), [1, 1, 3, 3], new Array(9).fill(1));
  });

  test('ceil mode adds a window only if it starts inside the input', () => {
    const x = iota([1, 1, 1, 5]);
    expectND(R.avgPool2d(x, [1, 2], [1, 2]), [1, 1, 1, 2], [0.5, 2.5]);
    expectND(R.avgPool2d(x, [1, 2], [1, 2], 0, { ceilMode: true }), [1, 1, 1, 3], [0.5, 2.5, 4]);
    expectND(R.maxPool2d(x, [1, 2], [1, 2], 0, { ceilMode: true }), [1, 1, 1, 3], [1, 3, 4]);
  });

  test('maxPool2d pads with -inf and supports dilation', () => {
    expectND(R.maxPool2d(R.nd([1, 1, 2, 2], [-1, -2, -3, -4]), 2, 1, 1), [1, 1, 3, 3], [-1, -1, -2, -1, -1, -2, -3, -3, -4]);
    expectND(R.maxPool2d(iota([1, 1, 1, 5]), [1, 2], 1, 0, { dilation: [1, 3] }), [1, 1, 1, 2], [3, 4]);
    expect(() => R.maxPool2d(ones([1, 1, 4, 4]), 2, 2, 2)).toThrow(/half/);
  });

  test('adaptiveAvgPool2d uses overlapping floor/ceil bins', () => {
    const x = iota([1, 1, 5, 7]);
    const out = R.adaptiveAvgPool2d(x, [2, 3]);
    expect(out.shape).toEqual([1, 1, 2, 3]);
    // bin (1, 2): rows [2, 5), cols [4, 7)
    const expected = [2, 3, 4].flatMap((r) => [4, 5, 6].map((c) => r * 7 + c)).reduce((a, b) => a + b) / 9;
    expect(out.data[5]).toBeCloseTo(expected, 12);
  });
});

describe('interpolate', () => {
  test('output sizes from size and scaleFactor (floored)', () => {
    const x = iota([1, 1, 5, 4]);
    expect(R.interpolate(x, { size: [3, 7], mode: 'nearest' }).shape).toEqual([1, 1, 3, 7]);
    expect(R.interpolate(x, { scaleFactor: 0.5, mode: 'bilinear' }).shape).toEqual([1, 1, 2, 2]);
    expect(R.interpolate(x, { scaleFactor: [1.5, 2], mode: 'nearest' }).shape).toEqual([1, 1, 7, 8]);
    expect(() => R.interpolate(x, { mode: 'nearest' })).toThrow();
  });

  test('nearest picks floor(dst · in/out) for sizes and floor(dst / scaleFactor) for scale factors', () => {
    const x = iota([1, 1, 1, 10]);
    const bySize = R.interpolate(R.nd([1, 1, 1, 3], [0, 1, 2]), { size: [1, 5], mode: 'nearest' });
    expectND(bySize, [1, 1, 1, 5], [0, 0, 1, 1, 2]);
    // in 10, scale 1.55 → out 15; dst 3 reads floor(3 / 1.55) = 1, whereas in/out would give 2.
    const byScale = R.interpolate(x, { scaleFactor: 1.55, mode: 'nearest' });
    expect(byScale.shape).toEqual([1, 1, 1, 15]);
    expect(byScale.data[3]).toBe(1);
    expect(R.interpolate(x, { scaleFactor: 1.55, mode: 'nearest', recomputeScaleFactor: true }).data[3]).toBe(2);
    expectND(R.interpolate(R.nd([1, 1, 1, 3], [0, 1, 2]), { size: [1, 5], mode: 'nearest-exact' }), [1, 1, 1, 5], [0, 0, 1, 2, 2]);
  });

  test('bilinear, align_corners false (source clamped at 0) and true', () => {
    const x = R.nd([1, 1, 1, 2], [0, 1]);
    expectND(R.interpolate(x, { size: [2, 4], mode: 'bilinear' }), [1, 1, 2, 4], [0, 0.25, 0.75, 1, 0, 0.25, 0.75, 1]);
    expectND(R.interpolate(x, { size: [1, 4], mode: 'bilinear', alignCorners: true }), [1, 1, 1, 4], [0, 1 / 3, 2 / 3, 1], 1e-15);
    // 2x downscale without align_corners averages pixel pairs
    expectND(R.interpolate(R.nd([1, 1, 2, 4], [0, 2, 4, 8, 0, 2, 4, 8]), { scaleFactor: 0.5, mode: 'bilinear' }), [1, 1, 1, 2], [1, 6]);
  });
});
