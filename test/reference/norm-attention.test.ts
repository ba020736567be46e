import { describe, expect, test } from 'vitest';
import * as R from '../../src/reference/index.ts';
import { expectND, range } from './helpers.ts';

const pseudoRandom = (shape: number[], seed: number) =>
  R.nd(shape, range(R.numel(shape)).map((i) => Math.sin(seed * 1000 + i * 12.9898)));

describe('normalisation', () => {
  test('groupNorm normalises each (sample, group) and applies per-channel affine', () => {
    const x = R.nd([1, 2, 2], [1, 2, 3, 4]);
    const s = Math.sqrt(1.25 + 1e-5);
    expectND(R.groupNorm(x, 1, null, null), [1, 2, 2], [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]);
    const twoGroups = R.groupNorm(x, 2, R.nd([2], [2, 3]), R.nd([2], [0, 1]), 0);
    expectND(twoGroups, [1, 2, 2], [-2, 2, 1 - 3, 1 + 3]);
    expect(() => R.groupNorm(R.nd([1, 3, 2]), 2, null, null)).toThrow(/divisible/);
  });

  test('layerNorm over several trailing dims', () => {
    const x = pseudoRandom([3, 2, 4], 1);
    const y = R.layerNorm(x, [2, 4], null, null, 0);
    for (let r = 0; r < 3; r++) {
      const row = Array.from(y.data.subarray(r * 8, r * 8 + 8));
      expect(Math.abs(row.reduce((a, b) => a + b) / 8)).toBeLessThan(1e-15);
      expect(row.reduce((a, b) => a + b * b, 0) / 8).toBeCloseTo(1, 12);
    }
    expect(() => R.layerNorm(x, [4, 2], null, null)).toThrow();
  });

  test('batchNorm2d training: biased variance for the output, unbiased for the running update', () => {
    const x = R.nd([2, 1, 1, 1], [1, 3]);
    const rm = R.nd([1], [0]);
    const rv = R.nd([1], [1]);
    const y = R.batchNorm2d(x, rm, rv, null, null, { training: true, eps: 0 });
    expectND(y, [2, 1, 1, 1], [-1, 1]);
    expectND(rm, [1], [0.2], 1e-15);
    expectND(rv, [1], [1.1], 1e-15);
    const evalOut = R.batchNorm2d(x, R.nd([1], [1]), R.nd([1], [4]), R.nd([1], [2]), R.nd([1], [1]), { eps: 0 });
    expectND(evalOut, [2, 1, 1, 1], [1, 3]);
    expect(() => R.batchNorm2d(x, null, null, null, null)).toThrow(/running/);
  });
});

describe('attention', () => {
  const q = pseudoRandom([2, 3, 4], 1);
  const k = pseudoRandom([2, 5, 4], 2);
  const v = pseudoRandom([2, 5, 6], 3);

  test('probabilities sum to one; output is probs @ v', () => {
    const p = R.attentionProbs(q, k);
    expect(p.shape).toEqual([2, 3, 5]);
    for (let r = 0; r < 6; r++) expect(p.data.subarray(r * 5, r * 5 + 5).reduce((a, b) => a + b)).toBeCloseTo(1, 14);
    expectND(R.scaledDotProductAttention(q, k, v), [2, 3, 6], Array.from(R.matmul(p, v).data));
  });

  test('scale defaults to 1/sqrt(D)', () => {
    expectND(R.attentionProbs(q, k, { scale: 0.5 }), [2, 3, 5], Array.from(R.attentionProbs(q, k).data), 1e-15);
    expect(R.attentionProbs(q, k, { scale: 1 }).data[0]).not.toBeCloseTo(R.attentionProbs(q, k).data[0], 6);
  });

  test('bool mask keeps nonzero keys and equals an additive 0/-inf mask; a fully masked row is NaN', () => {
    const keep = R.nd([2, 1, 5], [1, 1, 0, 1, 0, 1, 0, 0, 0, 1]);
    const additive = R.where(keep, 0, -Infinity);
    const a = R.attentionProbs(q, k, { mask: keep, maskKind: 'bool' });
    expectND(R.attentionProbs(q, k, { mask: additive, maskKind: 'additive' }), a.shape, Array.from(a.data));
    expect(a.data[2]).toBe(0);
    expect(() => R.attentionProbs(q, k, { mask: keep })).toThrow(/maskKind/);
    const none = R.attentionProbs(q, k, { mask: R.nd([5]), maskKind: 'bool' });
    expect(none.data.every(Number.isNaN)).toBe(true);
  });

  test('causal: query i attends to keys 0..i', () => {
    const x = pseudoRandom([1, 4, 4], 4);
    const p = R.attentionProbs(x, x, { causal: true });
    expectND(R.slice(p, [null, [0, 1]]), [1, 1, 4], [1, 0, 0, 0]);
    expect(p.data[4 + 2]).toBe(0);
    expect(p.data[4 + 1]).toBeGreaterThan(0);
  });
});

describe('embeddings', () => {
  test('embedding gathers rows for list and NDArray indices', () => {
    const w = R.nd([3, 2], [0, 1, 10, 11, 20, 21]);
    expectND(R.embedding(w, [2, 0, 2]), [3, 2], [20, 21, 0, 1, 20, 21]);
    expectND(R.embedding(w, R.nd([2, 1], [1, 1])), [2, 1, 2], [10, 11, 10, 11]);
    expect(() => R.embedding(w, [3])).toThrow(/out of range/);
  });

  test('timestepEmbedding: sin then cos halves, flip swaps them, odd dim gets a zero column', () => {
    const e = R.timestepEmbedding([0, 1], 5, { downscaleFreqShift: 1 });
    expect(e.shape).toEqual([2, 5]);
    expectND(R.slice(e, [[0, 1]]), [1, 5], [0, 0, 1, 1, 0]);
    // half = 2, freqs exp(-ln(1e4) · [0, 1] / (2 - 1)) = [1, 1e-4], rounded to float32 as PyTorch
    const f1 = Math.fround(1e-4);
    expectND(R.slice(e, [[1, 2]]), [1, 5], [Math.sin(1), Math.sin(f1), Math.cos(1), Math.cos(f1), 0], 1e-7);
    const flipped = R.timestepEmbedding([1], 4, { flipSinToCos: true, downscaleFreqShift: 1 });
    expectND(flipped, [1, 4], [Math.cos(1), Math.cos(f1), Math.sin(1), Math.sin(f1)], 1e-7);
  });
});
