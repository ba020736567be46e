// UMO's attribute matching on planted embeddings: changes built from known text directions plus noise.
import { describe, expect, it } from 'vitest';
import {
  differences, greedySelect, similarityScores, textDirections, uniquenessScores,
} from '../../src/diagnosis/attribute-matching.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
const D = 48;
const K = 10;
const random = rng(7);
const vec = (scale = 1) => Float32Array.from({ length: D }, () => scale * random());
const directions = Array.from({ length: K }, () => vec());
const mix = (terms: Array<[number, number]>, noise: number) => {
  const out = vec(noise);
  for (const [a, w] of terms) for (let i = 0; i < D; i++) out[i] += w * directions[a][i];
  return out;
};
const argsort = (s: number[]) => s.map((v, i) => [v, i]).sort((x, y) => y[0] - x[0]).map(([, i]) => i);

describe('attribute matching', () => {
  it('S_sim ranks the planted attribute first; greedy then names the second one it does not explain', () => {
    const changes = Array.from({ length: 12 }, () => mix([[3, 2], [5, 0.8]], 0.4));
    const s = similarityScores(changes, directions);
    expect(argsort(s)[0]).toBe(3);
    expect(s[3]).toBeGreaterThan(0.6);
    const picked = greedySelect(changes, directions, { count: 2 });
    expect(picked.map((p) => p.index)).toEqual([3, 5]);
    expect(picked[1].score).toBeGreaterThan(0.2);
    // A floor stops the selection once nothing planted is left.
    expect(greedySelect(changes, directions, { count: 5, minScore: 0.2 }).map((p) => p.index)).toEqual([3, 5]);
  });

  it('S_uni removes an attribute every edit shows alike and keeps the edit-specific ones', () => {
    const edits = [
      Array.from({ length: 8 }, () => mix([[1, 1.5], [9, 1.5]], 0.3)),
      Array.from({ length: 8 }, () => mix([[4, 1.5], [9, 1.5]], 0.3)),
      Array.from({ length: 8 }, () => mix([[6, 1.5], [9, 1.5]], 0.3)),
    ];
    const sim = edits.map((c) => similarityScores(c, directions));
    const uni = uniquenessScores(sim);
    for (const [e, planted] of [[0, 1], [1, 4], [2, 6]]) {
      expect(sim[e][9]).toBeGreaterThan(0.4); // the shared attribute looks as good as the planted one by S_sim
      expect(argsort(uni[e])[0]).toBe(planted);
      expect(Math.abs(uni[e][9])).toBeLessThan(0.15);
    }
    expect(uniquenessScores([[0.3, 0.1]])).toEqual([[0.3, 0.1]]);
  });

  it('text directions average over templates; pair differences subtract originals', () => {
    const t = [Float32Array.from([1, 0]), Float32Array.from([0, 1])];
    const withA = [[Float32Array.from([2, 0]), Float32Array.from([1, 1])], [Float32Array.from([1, 2]), Float32Array.from([0, 2])]];
    expect(textDirections(t, withA).map((v) => Array.from(v))).toEqual([[1, 0.5], [0, 1]]);
    expect(differences([Float32Array.from([1, 2])], [Float32Array.from([4, 0])]).map((v) => Array.from(v))).toEqual([[3, -2]]);
  });

  it('mismatched inputs are named', () => {
    expect(() => differences([vec()], [])).toThrow(/1 originals but 0 counterfactuals/);
    expect(() => similarityScores([], directions)).toThrow(/no counterfactual pairs/);
    expect(() => similarityScores([new Float32Array(3)], directions)).toThrow(/text direction 0 has 48 dimensions, expected 3/);
    expect(() => textDirections([vec()], [[vec()], [vec()]])).toThrow(/1 template embeddings but 2 sets/);
  });
});
