// UMO's attribute matching: names the change between an image and its counterfactual with words of a
// bank, through a joint image–text embedding (the world CLIP). Host-side math on embeddings read back
// once (N pairs × D, K attributes × D: small).
//
//   ΔE_n = E_I(x'_n) − E_I(x_n)                 the change of counterfactual pair n (per edit direction)
//   Δt_a = E_T(template ⊕ a) − E_T(template)     the text direction of attribute a (mean over templates)
//   S_sim(a) = mean_n cos(ΔE_n, Δt_a)            how well a describes the edit's changes
//   S_uni(a) = S_sim(a) − mean over the other edits of their S_sim(a)
//                                               how specific a is to this edit: a word that matches every
//                                               edit alike (a generic "a face") scores near zero
//   greedy: pick the best attribute, remove its text direction from every ΔE_n (projection), rescore,
//           repeat — so that a second attribute is named only for what the first does not explain.
import type { Tensor } from '../autograd/tensor.js';
import { readItems } from './readback.js';

export type Vectors = readonly Float32Array[];

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);
const norm = (a: Float32Array) => Math.sqrt(dot(a, a));

function cosine(a: Float32Array, b: Float32Array): number {
  const d = norm(a) * norm(b);
  return d > 0 ? dot(a, b) / d : 0;
}

function sameWidth(what: string, rows: Vectors, width: number): void {
  rows.forEach((r, i) => {
    if (r.length !== width) throw new Error(`cflens: attribute matching: ${what} ${i} has ${r.length} dimensions, expected ${width}`);
  });
}

/** Rows of a [n, D] tensor read back as vectors (the one readback of a matching step). */
export async function rowsOf(t: Tensor): Promise<Float32Array[]> {
  if (t.ndim !== 2) throw new Error(`cflens: attribute matching: expected embeddings [n, D], got rank ${t.ndim}`);
  return readItems(t);
}

/** Pairwise differences b_n − a_n (ΔE of counterfactual pairs, or Δt of prompts against their template). */
export function differences(a: Vectors, b: Vectors): Float32Array[] {
  if (a.length !== b.length) throw new Error(`cflens: attribute matching: ${a.length} originals but ${b.length} counterfactuals`);
  if (a.length) sameWidth('embedding', [...a, ...b], a[0].length);
  return a.map((x, n) => x.map((v, i) => b[n][i] - v));
}

/** Δt_a: the mean over templates of E_T(template with a) − E_T(template); `withAttribute[t][a]`, `templates[t]`. */
export function textDirections(templates: Vectors, withAttribute: readonly Vectors[]): Float32Array[] {
  if (withAttribute.length !== templates.length || !templates.length) {
    throw new Error(`cflens: attribute matching: ${templates.length} template embeddings but ${withAttribute.length} sets of attribute embeddings`);
  }
  const K = withAttribute[0].length;
  const D = templates[0].length;
  return Array.from({ length: K }, (_, a) => {
    const out = new Float32Array(D);
    withAttribute.forEach((rows, t) => {
      if (rows.length !== K) throw new Error(`cflens: attribute matching: template ${t} has ${rows.length} attribute embeddings, expected ${K}`);
      for (let i = 0; i < D; i++) out[i] += (rows[a][i] - templates[t][i]) / templates.length;
    });
    return out;
  });
}

/** S_sim(a) for every attribute: the mean cosine between the pairs' changes and its text direction. */
export function similarityScores(changes: Vectors, directions: Vectors): number[] {
  if (!changes.length) throw new Error('cflens: attribute matching: no counterfactual pairs to score');
  sameWidth('text direction', directions, changes[0].length);
  sameWidth('change', changes, changes[0].length);
  return directions.map((t) => changes.reduce((s, c) => s + cosine(c, t), 0) / changes.length);
}

/**
 * S_uni for every edit e and attribute a: S_sim[e][a] minus the mean of S_sim[f][a] over the other edits
 * f (with one edit, S_sim itself). `similarity[e]` holds S_sim of edit e.
 */
export function uniquenessScores(similarity: readonly (readonly number[])[]): number[][] {
  const E = similarity.length;
  return similarity.map((row, e) => row.map((s, a) => {
    if (E === 1) return s;
    let others = 0;
    for (let f = 0; f < E; f++) if (f !== e) others += similarity[f][a];
    return s - others / (E - 1);
  }));
}

export interface MatchedAttribute { index: number; score: number }

/**
 * Greedy selection: up to `count` attributes, each the best by `score(changes)` on what the earlier ones
 * leave unexplained (their text directions projected out of every change); stops below `minScore`.
 */
export function greedySelect(
  changes: Vectors, directions: Vectors, o: { count?: number; minScore?: number; score?: (changes: Vectors) => number[] } = {},
): MatchedAttribute[] {
  const count = Math.min(o.count ?? 3, directions.length);
  const score = o.score ?? ((c: Vectors) => similarityScores(c, directions));
  let residual = changes.map((c) => Float32Array.from(c));
  const basis: Float32Array[] = []; // orthonormal span of the chosen directions
  const chosen: MatchedAttribute[] = [];
  while (chosen.length < count) {
    const s = score(residual);
    let best = -1;
    s.forEach((v, a) => {
      if (!chosen.some((c) => c.index === a) && (best < 0 || v > s[best])) best = a;
    });
    if (best < 0 || s[best] < (o.minScore ?? -Infinity)) break;
    chosen.push({ index: best, score: s[best] });
    const u = Float32Array.from(directions[best]);
    for (const b of basis) {
      const p = dot(u, b);
      for (let i = 0; i < u.length; i++) u[i] -= p * b[i];
    }
    const n = norm(u);
    if (n === 0) continue;
    for (let i = 0; i < u.length; i++) u[i] /= n;
    basis.push(u);
    residual = residual.map((c) => {
      const p = dot(c, u);
      return c.map((v, i) => v - p * u[i]);
    });
  }
  return chosen;
}
