// UMO's analysis: names what each edit direction changes, by matching the CLIP image-embedding changes
// of its counterfactual pairs against the text directions of a bank's phrases (attribute-matching.ts):
// S_sim per edit, S_uni across the edits, and a greedy selection of the phrases that explain the change.
import { noGrad } from '../autograd/grad-mode.js';
import type { Tensor } from '../autograd/tensor.js';
import type { CLIPModel } from '../models/clip/clip-model.js';
import { differences, greedySelect, rowsOf, similarityScores, textDirections, uniquenessScores } from './attribute-matching.js';
import { bankPhrases, bareTemplate, fillTemplate, type AttributeBank, type BankPhrase } from './bank.js';
import { clipImageFeatures, promptFeatures } from './clip-regularizer.js';

/** Token ids of texts, padded to one length (e.g. tokenizeBatch with the CLIP model's tokenizer). */
export type Tokenize = (texts: readonly string[]) => number[][];

export interface RankedPhrase extends BankPhrase { sSim: number; sUni: number }

export interface EditMatch {
  /**
   * Phrases by S_sim after S_uni: those specific to this edit (S_uni > 0) first, each part by S_sim. (S_uni
   * alone would favour the opposite of another edit's phrase: "no glasses" when the other edit adds glasses.)
   */
  ranked: RankedPhrase[];
  /** Greedy selection by S_sim: each phrase explains what the earlier ones leave. */
  greedy: Array<BankPhrase & { score: number }>;
}

/** Unit CLIP image embeddings of images in [-1, 1], read back. */
export async function imageEmbeddings(clip: CLIPModel, x: Tensor): Promise<Float32Array[]> {
  const e = noGrad(() => clipImageFeatures(clip, x));
  const rows = await rowsOf(e);
  e.dispose();
  return rows;
}

/** Δt of every phrase of the bank, averaged over its templates. */
export async function bankDirections(clip: CLIPModel, tokenize: Tokenize, bank: AttributeBank): Promise<Float32Array[]> {
  const phrases = bankPhrases(bank).map((p) => p.phrase);
  const embed = async (texts: string[]) => {
    const t = promptFeatures(clip, tokenize(texts));
    const rows = await rowsOf(t);
    t.dispose();
    return rows;
  };
  const bare = await embed(bank.templates.map(bareTemplate));
  const filled: Float32Array[][] = [];
  for (const template of bank.templates) filled.push(await embed(phrases.map((p) => fillTemplate(template, p))));
  return textDirections(bare, filled);
}

/**
 * Matches each edit's counterfactual pairs (original and edited images in [-1, 1], same shapes) to the
 * bank: S_sim, S_uni over the edits, the ranking and a greedy selection of `greedyCount` phrases.
 */
export async function matchEdits(
  clip: CLIPModel, tokenize: Tokenize, bank: AttributeBank, edits: ReadonlyArray<{ original: Tensor; edited: Tensor }>, o: { greedyCount?: number } = {},
): Promise<EditMatch[]> {
  if (!edits.length) throw new Error('cflens: matchEdits: no edits to match');
  const phrases = bankPhrases(bank);
  const directions = await bankDirections(clip, tokenize, bank);
  const changes: Float32Array[][] = [];
  for (const e of edits) changes.push(differences(await imageEmbeddings(clip, e.original), await imageEmbeddings(clip, e.edited)));
  const sim = changes.map((c) => similarityScores(c, directions));
  const uni = uniquenessScores(sim);
  return changes.map((c, e) => ({
    ranked: phrases.map((p, a) => ({ ...p, sSim: sim[e][a], sUni: uni[e][a] })).sort((x, y) => Number(y.sUni > 0) - Number(x.sUni > 0) || y.sSim - x.sSim),
    greedy: greedySelect(c, directions, { count: o.greedyCount ?? 3 }).map((m) => ({ ...phrases[m.index], score: m.score })),
  }));
}
