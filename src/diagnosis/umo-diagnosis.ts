// A UMO diagnosis end to end: the edit search (umo.ts), each edit's counterfactual pairs named through
// the bank (umo-analysis.ts), and one score per bank attribute for the report and the comparison with
// the world's oracle:
//   score(a) = Σ over edits e of  effect(e) · max(0, S_sim(e, p))  for a's best phrase p among those specific
//              to e (S_uni > 0; with one edit, every phrase),
// effect(e) being the summed progress of e's images towards their goals (DiagnosisTarget.progress: for a
// classifier, the fall of p(original class)) over all N images. An attribute scores high when edits that
// move the target on many images change it, and change it more than the other edits do. The sum (not the
// best edit) because winner-take-all splits one shortcut over several edits — on smile_blond one edit makes
// hair blond and another takes the blond away, and each alone can rank below an edit's incidental tint.
import { noGrad } from '../autograd/grad-mode.js';
import { keep, tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import type { CLIPModel } from '../models/clip/clip-model.js';
import { indexSelect } from '../ops/gather.js';
import { bankPhrases, type AttributeBank } from './bank.js';
import { readItems } from './readback.js';
import { pickGoals } from './targets.js';
import { matchEdits, type EditMatch, type RankedPhrase, type Tokenize } from './umo-analysis.js';
import { umo, type UmoIteration, type UmoOptions } from './umo.js';

export interface UmoDiagnosisOptions extends Omit<UmoOptions, 'clip'> {
  /** CLIP for the analysis (and L_CLIP with `labelPrompts`). */
  clip: CLIPModel;
  tokenize: Tokenize;
  bank: AttributeBank;
  /** Unit text features of the labelled attribute's values: turns on L_CLIP (β). */
  labelPrompts?: Tensor;
  /** Counterfactual pairs kept per edit for the report (default 4). */
  pairsPerEdit?: number;
}

export interface UmoEdit {
  /** Images assigned to this edit, and those it flips. */
  images: number[];
  flipped: number[];
  /** Summed progress of its images towards their goals, over all images (effect(e) of the header). */
  effect: number;
  /** The bank's phrases, S_sim after S_uni (the first 8). */
  top: RankedPhrase[];
  greedy: EditMatch['greedy'];
  /** Up to pairsPerEdit of its images: [3, H, W] in [-1, 1] each — original, unedited decoding, edit. */
  pairs: { image: number; original: Float32Array; reconstruction: Float32Array; edited: Float32Array }[];
}

export interface UmoDiagnosis {
  edits: UmoEdit[];
  /** One score per bank attribute group and per distractor phrase (see the header). */
  scores: Record<string, number>;
  /** Keys of `scores`, best first. */
  ranking: string[];
  flipRate: number;
  history: UmoIteration[];
}

/** Per attribute (bank group, or the phrase itself for distractors), the score of the header. */
export function attributeScores(matches: readonly EditMatch[], effects: readonly number[]): Record<string, number> {
  const scores: Record<string, number> = {};
  matches.forEach((m, e) => {
    const best: Record<string, number> = {};
    for (const p of m.ranked) {
      const key = p.group ?? p.phrase;
      const eligible = matches.length === 1 || p.sUni > 0;
      best[key] = Math.max(best[key] ?? 0, eligible ? effects[e] * Math.max(0, p.sSim) : 0);
    }
    for (const [key, v] of Object.entries(best)) scores[key] = (scores[key] ?? 0) + v;
  });
  return scores;
}

export async function diagnoseUmo(o: UmoDiagnosisOptions): Promise<UmoDiagnosis> {
  const { images, generator: gen } = o;
  const N = images.shape[0];
  const r = await umo({ ...o, clip: o.labelPrompts ? { model: o.clip, prompts: o.labelPrompts } : undefined });
  const out0 = keep(noGrad(() => o.target.forward(images)));
  const goal = await o.target.goal(out0);
  out0.dispose();
  const k = r.directions.length;
  const assigned = Array.from({ length: k }, (_, j) => r.assignment.flatMap((w, i) => (w === j ? [i] : [])));
  const used = assigned.map((ids, j) => (ids.length ? j : -1)).filter((j) => j >= 0);
  const pairs: { original: Tensor; edited: Tensor }[] = [];
  const edits: UmoEdit[] = [];
  for (const j of used) {
    const ids = assigned[j];
    const original = keep(tidy(() => indexSelect(images, 0, ids)));
    const z = keep(gen.invert(original));
    const edited = keep(noGrad(() => gen.decode(z, r.directions[j])));
    const shown = ids.slice(0, o.pairsPerEdit ?? 4);
    const zShown = keep(tidy(() => indexSelect(z, 0, shown.map((_, i) => i))));
    const recon = keep(noGrad(() => gen.decode(zShown, null)));
    zShown.dispose();
    const [orig, rec, ed] = [await readItems(original), await readItems(recon), await readItems(edited)];
    const out = keep(noGrad(() => o.target.forward(edited)));
    const progress = await o.target.progress(out, pickGoals(goal, ids));
    out.dispose();
    edits.push({
      images: ids, flipped: ids.filter((i) => r.flipped[i]), top: [], greedy: [], effect: progress.reduce((s, v) => s + Math.max(0, v), 0) / N,
      pairs: shown.map((image, i) => ({ image, original: orig[i], reconstruction: rec[i], edited: ed[i] })),
    });
    pairs.push({ original, edited });
    z.dispose();
    recon.dispose();
  }
  const matches = await matchEdits(o.clip, o.tokenize, o.bank, pairs);
  matches.forEach((m, e) => {
    edits[e].top = m.ranked.slice(0, 8);
    edits[e].greedy = m.greedy;
  });
  for (const p of pairs) {
    p.original.dispose();
    p.edited.dispose();
  }
  for (const d of r.directions) d.dispose();
  const scores = attributeScores(matches, edits.map((e) => e.effect));
  for (const p of bankPhrases(o.bank)) scores[p.group ?? p.phrase] ??= 0;
  const ranking = Object.keys(scores).sort((a, b) => scores[b] - scores[a]);
  return { edits, scores, ranking, flipRate: r.flipped.filter(Boolean).length / N, history: r.history };
}

/**
 * UMO over several generators as one diagnosis (the paper's ensemble): every generator's edits, each
 * attribute's score averaged over the generators (an attribute one generator cannot edit counts 0 there),
 * the flip rate averaged.
 */
export function ensembleUmo(runs: readonly UmoDiagnosis[]): UmoDiagnosis {
  if (runs.length === 1) return runs[0];
  const keys = new Set(runs.flatMap((r) => Object.keys(r.scores)));
  const scores = Object.fromEntries([...keys].map((k) => [k, runs.reduce((s, r) => s + (r.scores[k] ?? 0), 0) / runs.length]));
  return {
    edits: runs.flatMap((r) => r.edits), scores, ranking: [...keys].sort((a, b) => scores[b] - scores[a]),
    flipRate: runs.reduce((s, r) => s + r.flipRate, 0) / runs.length, history: runs.flatMap((r) => r.history),
  };
}
