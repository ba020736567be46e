import { describe, expect, test } from 'vitest';
import * as R from '../../src/reference/index.ts';
import { expectND, range } from './helpers.ts';

const pseudoRandom = (shape: number[], seed: number) =>
  R.nd(shape, range(R.numel(shape)).map((i) => Math.sin(seed * 1000 + i * 12.9898)));

describe('crossEntropy', () => {
  const logits = pseudoRandom([4, 3], 1);
  const target = R.nd([4], [0, 2, 1, 2]);
  const logp = R.logSoftmax(logits, 1);
  const picked = [0, 1, 2, 3].map((n) => logp.data[n * 3 + target.data[n]]);

  test('class indices: none / sum / mean, ignoreIndex excluded from the mean', () => {
    expectND(R.crossEntropy(logits, target, { reduction: 'none' }), [4], picked.map((v) => -v), 1e-15);
    expectND(R.crossEntropy(logits, target, { reduction: 'sum' }), [], [-picked.reduce((a, b) => a + b)], 1e-14);
    expectND(R.crossEntropy(logits, target), [], [-picked.reduce((a, b) => a + b) / 4], 1e-14);
    const ignored = R.nd([4], [0, -100, 1, 2]);
    expectND(R.crossEntropy(logits, ignored), [], [-(picked[0] + picked[2] + picked[3]) / 3], 1e-14);
    expect(() => R.crossEntropy(logits, R.nd([4], [0, 3, 0, 0]))).toThrow(/out of range/);
  });

  test('label smoothing with indices equals smoothed one-hot soft targets', () => {
    const oneHot = R.nd([4, 3], range(12).map((i) => (target.data[Math.floor(i / 3)] === i % 3 ? 1 : 0)));
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const hard = R.crossEntropy(logits, target, { reduction, labelSmoothing: 0.2 });
      const soft = R.crossEntropy(logits, oneHot, { reduction, labelSmoothing: 0.2 });
      expectND(hard, soft.shape, Array.from(soft.data), 1e-14);
    }
  });

  test('spatial [N, C, d] equals flattening to [N·d, C]', () => {
    const x = pseudoRandom([2, 3, 5], 2);
    const t = R.nd([2, 5], [0, 1, 2, 0, 1, 2, 2, 1, 0, 0]);
    const flat = R.reshape(R.permute(x, [0, 2, 1]), [10, 3]);
    expectND(R.crossEntropy(x, t), [], Array.from(R.crossEntropy(flat, R.reshape(t, [10])).data), 1e-14);
    expect(R.crossEntropy(x, t, { reduction: 'none' }).shape).toEqual([2, 5]);
  });
});

describe('other losses', () => {
  test('bce with logits, stable and with posWeight', () => {
    const x = R.nd([3], [0, 800, -800]);
    const y = R.nd([3], [1, 1, 1]);
    expectND(R.binaryCrossEntropyWithLogits(x, y, { reduction: 'none' }), [3], [Math.LN2, 0, 800]);
    expectND(R.binaryCrossEntropyWithLogits(R.nd([1], [0]), R.nd([1], [1]), { posWeight: 2 }), [], [2 * Math.LN2]);
    expectND(R.binaryCrossEntropyWithLogits(R.nd([1], [0]), R.nd([1], [0]), { posWeight: 2, reduction: 'sum' }), [], [Math.LN2]);
  });

  test('mse and l1 reductions', () => {
    const a = R.nd([2], [1, 4]);
    const b = R.nd([2], [2, 2]);
    expectND(R.mseLoss(a, b), [], [2.5]);
    expectND(R.mseLoss(a, b, { reduction: 'sum' }), [], [5]);
    expectND(R.l1Loss(a, b, { reduction: 'none' }), [2], [1, 2]);
    expectND(R.l1Loss(a, b), [], [1.5]);
  });

  test('cosineSimilarity: dim, broadcasting and the eps floor on the norm product', () => {
    const a = R.nd([2, 2], [1, 0, 3, 4]);
    const b = R.nd([2, 2], [2, 0, 0, 0]);
    expectND(R.cosineSimilarity(a, b, 1), [2], [1, 0]);
    expectND(R.cosineSimilarity(a, R.nd([2], [1, 1]), -1), [2], [Math.SQRT1_2, 7 / (5 * Math.SQRT2)], 1e-15);
    expectND(R.cosineSimilarity(a, a, 0), [2], [1, 1], 1e-15);
    // ‖x‖·‖y‖ = 1e-10 < eps = 1e-8 → x·y / eps
    expectND(R.cosineSimilarity(R.nd([1, 1], [1e-5]), R.nd([1, 1], [1e-5])), [1], [1e-10 / 1e-8], 1e-15);
  });
});

describe('ssim', () => {
  test('gaussian window is normalised and symmetric', () => {
    const g = R.gaussianWindow(11, 1.5);
    expect(g.reduce((a, b) => a + b)).toBeCloseTo(1, 15);
    expect(g[0]).toBeCloseTo(g[10], 18);
    expect(g[5]).toBeGreaterThan(g[4]);
  });

  test('identical images give 1; constant images give the luminance term', () => {
    const x = pseudoRandom([1, 2, 12, 13], 1);
    expectND(R.ssim(x, x), [], [1], 1e-14);
    const a = 0.3;
    const b = 0.7;
    const c1 = 0.01 ** 2;
    const full = (v: number) => R.nd([1, 1, 11, 11], new Array(121).fill(v));
    expectND(R.ssim(full(a), full(b)), [], [(2 * a * b + c1) / (a * a + b * b + c1)], 1e-12);
    expect(() => R.ssim(R.nd([1, 1, 10, 10]), R.nd([1, 1, 10, 10]))).toThrow(/smaller/);
  });
});
