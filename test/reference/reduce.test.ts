import { describe, test } from 'vitest';
import * as R from '../../src/reference/index.ts';
import { expectND, range } from './helpers.ts';

const x = R.nd([2, 3], [1, 5, 3, 4, 2, 6]);

describe('reductions', () => {
  test('sum/mean/prod over all, one, several and negative axes, keepdim', () => {
    expectND(R.sum(x), [], [21]);
    expectND(R.sum(x, 0), [3], [5, 7, 9]);
    expectND(R.sum(x, -1, { keepdim: true }), [2, 1], [9, 12]);
    expectND(R.mean(x, [0, 1], { keepdim: true }), [1, 1], [3.5]);
    expectND(R.prod(x, 1), [2], [15, 48]);
    const y = R.nd([2, 3, 4], range(24));
    // Σ_{i,k} (12i + 4j + k) = 32j + 60
    expectND(R.sum(y, [0, 2]), [3], [60, 92, 124]);
  });

  test('max/min/logsumexp; NaN propagates through max', () => {
    expectND(R.max(x, 1), [2], [5, 6]);
    expectND(R.min(x, 0), [3], [1, 2, 3]);
    expectND(R.logsumexp(R.nd([2], [1000, 1000])), [], [1000 + Math.LN2]);
    expectND(R.logsumexp(R.nd([2], [-Infinity, -Infinity])), [], [-Infinity]);
    expectND(R.max(R.nd([3], [1, NaN, 2])), [], [NaN]);
  });

  test('var correction: 1 (default, unbiased), 0 (population)', () => {
    const v = R.nd([4], [1, 2, 3, 4]);
    expectND(R.variance(v), [], [5 / 3]);
    expectND(R.variance(v, undefined, { correction: 0 }), [], [1.25]);
    expectND(R.var(x, 1, { correction: 0, keepdim: true }), [2, 1], [8 / 3, 8 / 3]);
  });

  test('argmax picks the first maximum', () => {
    expectND(R.argmax(R.nd([2, 3], [1, 7, 7, 9, 0, 9]), 1), [2], [1, 0]);
    expectND(R.argmax(R.nd([2, 3], [1, 7, 7, 9, 0, 9]), 0, true), [1, 3], [1, 0, 1]);
    expectND(R.argmax(R.nd([2, 2], [1, 5, 8, 2])), [], [2]);
  });
});

describe('softmax', () => {
  test('rows sum to one, stable for large logits, all -inf rows give NaN', () => {
    const s = R.softmax(R.nd([2, 2], [1000, 1000, 0, Math.log(3)]), -1);
    expectND(s, [2, 2], [0.5, 0.5, 0.25, 0.75], 1e-15);
    expectND(R.logSoftmax(R.nd([2], [0, 0])), [2], [-Math.LN2, -Math.LN2]);
    expectND(R.softmax(R.nd([2], [-Infinity, -Infinity])), [2], [NaN, NaN]);
  });
  test('along a non-last axis', () => {
    expectND(R.softmax(R.nd([2, 1], [0, 0]), 0), [2, 1], [0.5, 0.5]);
  });
});
