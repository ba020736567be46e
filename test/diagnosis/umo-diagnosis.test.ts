// UMO's attribute scores from the edits' matches, and the comparison of a method's scores with the oracle.
import { describe, expect, it } from 'vitest';
import { attributeScores, ensembleUmo, type UmoDiagnosis } from '../../src/diagnosis/umo-diagnosis.js';
import { compareWithOracle } from '../../src/diagnosis/agreement.js';
import type { EditMatch } from '../../src/diagnosis/umo-analysis.js';

const match = (rows: [string, string | null, number, number][]): EditMatch => ({
  ranked: rows.map(([phrase, group, sSim, sUni]) => ({ phrase, group, sSim, sUni })), greedy: [],
});

describe('UMO attribute scores', () => {
  it('effect × S_sim, over the phrases specific to an edit (S_uni > 0), the best phrase per edit summed over edits', () => {
    const m = [
      match([['blond hair', 'hair_color', 0.6, 0.4], ['red hair', 'hair_color', 0.2, 0.1], ['glasses', 'glasses', 0.5, -0.1], ['wink', null, 0.3, 0.2]]),
      match([['glasses', 'glasses', 0.4, 0.1], ['blond hair', 'hair_color', 0.1, -0.4], ['brown hair', 'hair_color', 0.2, 0.3], ['wink', null, 0.1, -0.2]]),
    ];
    const s = attributeScores(m, [0.5, 0.25]);
    expect(s.hair_color).toBeCloseTo(0.5 * 0.6 + 0.25 * 0.2); // edit 1's blond hair + edit 2's brown hair (its blond is not specific)
    expect(s.glasses).toBeCloseTo(0.1); // edit 1's glasses (0.5) is not specific to it (S_uni < 0)
    expect(s.wink).toBeCloseTo(0.15); // distractors score as their own phrase
    // One edit: nothing to be unique against, every phrase counts; negative S_sim scores 0.
    const one = attributeScores([match([['glasses', 'glasses', 0.5, 0], ['hat', 'hat', -0.2, 0]])], [0.8]);
    expect(one).toEqual({ glasses: 0.4, hat: 0 });
  });
});

describe('compareWithOracle', () => {
  const oracle = [
    { attribute: 'hair_color', meanAbsDelta: 0.5, flipRate: 0.6 },
    { attribute: 'hat', meanAbsDelta: 0.1, flipRate: 0.1 },
    { attribute: 'glasses', meanAbsDelta: 0.05, flipRate: 0 },
  ];
  it("Spearman's ρ over the shared attributes and the planted attribute's rank, ties counted against it", () => {
    const c = compareWithOracle({ hair_color: 0.9, hat: 0.2, glasses: 0.1, wink: 0.5 }, oracle, 'hair_color=blond');
    expect(c.spearman).toBeCloseTo(1);
    expect(c.planted).toBe('hair_color');
    expect(c.plantedRank).toBe(1);
    expect(compareWithOracle({ hair_color: 0.1, hat: 0.2, glasses: 0.3 }, oracle, 'hair_color=blond').spearman).toBeCloseTo(-1);
    // All zeros: not "first", but tied with everything.
    expect(compareWithOracle({ hair_color: 0, hat: 0, glasses: 0 }, oracle, 'hair_color=blond').plantedRank).toBe(3);
    expect(compareWithOracle({ hat: 1, glasses: 0 }, oracle, null).plantedRank).toBeNull();
  });
});

describe('ensembleUmo', () => {
  it('averages each attribute over the generators (missing = 0) and keeps every edit', () => {
    const run = (scores: Record<string, number>, flipRate: number, edits: number): UmoDiagnosis => ({
      edits: Array.from({ length: edits }, () => ({ images: [], flipped: [], effect: 0, top: [], greedy: [], pairs: [] })),
      scores, ranking: Object.keys(scores), flipRate, history: [],
    });
    const e = ensembleUmo([run({ hair_color: 0.4, hat: 0.2 }, 0.5, 2), run({ hair_color: 0.2, glasses: 0.6 }, 0.25, 3)]);
    expect(Object.keys(e.scores).sort()).toEqual(['glasses', 'hair_color', 'hat']);
    for (const [k, v] of Object.entries({ hair_color: 0.3, hat: 0.1, glasses: 0.3 })) expect(e.scores[k], k).toBeCloseTo(v);
    expect(e.ranking[2]).toBe('hat');
    expect(e.flipRate).toBeCloseTo(0.375);
    expect(e.edits).toHaveLength(5);
  });
});
