import { describe, expect, it } from 'vitest';
import { rankOf, ranks, spearman } from '../../src/diagnosis/agreement.js';

describe('agreement with the oracle', () => {
  it('ranks average ties; Spearman matches the textbook cases and a worked example with ties', () => {
    expect(ranks([10, 20, 20, 5])).toEqual([2, 3.5, 3.5, 1]);
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    // Ranks [1..5] and [1, 2, 3.5, 5, 3.5]: Σ d_a·d_b = 8, Σ d_a² = 10, Σ d_b² = 9.5 → ρ = 8 / √95.
    expect(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(8 / Math.sqrt(95), 12);
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(() => spearman([1], [1])).toThrow(/at least 2/);
  });

  it('the planted attribute\'s rank', () => {
    expect(rankOf({ hair_color: 0.9, smiling: 0.4, hat: 0.4 }, 'hair_color')).toBe(1);
    expect(rankOf({ hair_color: 0.9, smiling: 0.4, hat: 0.4 }, 'hat')).toBe(2);
    expect(() => rankOf({ a: 1 }, 'b')).toThrow(/b has no score \(scored: a\)/);
  });
});
