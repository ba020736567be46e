// A LANCE stress test end to end: every face is captioned (captioner), its caption perturbed (perturber),
// each edit checked against the class and turned into a counterfactual image (lanceEdit), kept when it
// passes the quality filters, and the target's p(y_GT | x) compared on the reconstruction and the edit.
//   Δp       p(y_GT | edit) − p(y_GT | reconstruction), per edit, per edit type, and per cluster of edits
//            (k-means over the CLIP text-embedding changes of the captions, clusters ranked by mean Δp);
//   Δacc@1   accuracy on the edits − accuracy on the reconstructions;
//   control  accuracy on the reconstructions − accuracy on the real faces (the paper's reconstructed test
//            set: what inversion alone changes).
// Quality filters (the paper's): directional similarity ≥ minDirectional, image–image similarity of
// edit and source ≥ minImageSimilarity, and the edit closer to the new caption than to the old.
import { noGrad } from '../autograd/grad-mode.js';
import { keep, tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import type { CLIPModel } from '../models/clip/clip-model.js';
import { narrow } from '../ops/shape.js';
import { softmax } from '../ops/softmax.js';
import type { StableDiffusionPipeline } from '../pipelines/stable-diffusion.js';
import type { AttributeReader } from './attribute-reader.js';
import { clipImageFeatures, promptFeatures } from './clip-regularizer.js';
import { disposeInversion, lanceEdit, lanceInversion } from './lance.js';
import { editKeepsClass, type CaptionEdit, type Captioner, type EditType, type Perturber } from './lance-captions.js';
import { readItems } from './readback.js';
import type { Tokenize } from './umo-analysis.js';

export interface LanceOptions {
  pipe: StableDiffusionPipeline;
  /** Logits of images in [-1, 1]. */
  classify: (x: Tensor) => Tensor;
  images: Tensor;
  labels: readonly number[];
  reader: AttributeReader;
  captioner: Captioner;
  perturber: Perturber;
  /** The class's own words (the caption check); CLIP and its tokenizer (similarities, filters, clusters). */
  classWords: readonly string[];
  clip: CLIPModel;
  tokenize: Tokenize;
  steps?: number;
  innerSteps?: number;
  selfReplace?: readonly number[];
  minDirectional?: number;
  minImageSimilarity?: number;
  /** Keep only edits whose image is closer to the new caption than to the old (default true). */
  requireCloser?: boolean;
  /** Edits per face at most (default all the perturber gives). */
  editsPerImage?: number;
  clusters?: number;
  onEdit?: (done: number, total: number) => void;
  shouldStop?: () => boolean;
}

export interface LanceEditRecord extends CaptionEdit {
  image: number;
  kept: boolean;
  why?: string;
  directional: number;
  imageSimilarity: number;
  pSource: number;
  pEdit: number;
  deltaP: number;
  /** Whether the target still predicts y_GT on the edit (top-1). */
  correct: boolean;
  selfReplace: number;
  /** [3, H, W] in [-1, 1]: the reconstruction and the edit (kept edits only). */
  source?: Float32Array;
  edit?: Float32Array;
}

export interface LanceResult {
  edits: LanceEditRecord[];
  byType: Record<string, { edits: number; meanDeltaP: number }>;
  clusters: { phrases: string[]; edits: number; meanDeltaP: number }[];
  accuracy: { real: number; reconstructed: number; edited: number };
  /** Δacc@1 (edited − reconstructed) and the reconstruction control (reconstructed − real). */
  deltaAcc: number;
  reconstructionControl: number;
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);
const sub = (a: Float32Array, b: Float32Array) => a.map((v, i) => v - b[i]);
const unit = (a: Float32Array) => {
  const n = Math.sqrt(dot(a, a)) || 1;
  return a.map((v) => v / n);
};

async function probs(classify: (x: Tensor) => Tensor, x: Tensor): Promise<Float32Array[]> {
  const p = keep(noGrad(() => tidy(() => softmax(classify(x), 1))));
  const rows = await readItems(p);
  p.dispose();
  return rows;
}

export async function lanceDiagnosis(o: LanceOptions): Promise<LanceResult> {
  const readings = await o.reader.read(o.images);
  const textRows = async (texts: string[]) => {
    const t = promptFeatures(o.clip, o.tokenize(texts));
    const rows = await readItems(t);
    t.dispose();
    return rows;
  };
  const imageRow = async (x: Tensor) => {
    const e = keep(noGrad(() => clipImageFeatures(o.clip, x)));
    const [row] = await readItems(e);
    e.dispose();
    return row;
  };
  const realP = await probs(o.classify, o.images);
  const edits: LanceEditRecord[] = [];
  const recon: boolean[] = [];
  const plans = readings.map((r, i) => {
    const caption = o.captioner.caption(r);
    return { i, caption, edits: o.perturber.perturb(r, caption).slice(0, o.editsPerImage ?? Infinity) };
  });
  const total = plans.reduce((s, p) => s + p.edits.length, 0);
  // The class check's similarity: CLIP text features centred on the mean of the class words and every
  // new phrase (the world CLIP's text features share a large common direction: raw cosines are 0.7–0.9
  // for any two phrases), then the cosine to the nearest class word.
  const phrases = [...new Set(plans.flatMap((p) => p.edits.map((e) => e.to)))];
  const allRows = await textRows([...o.classWords, ...phrases]);
  const centre = allRows[0].map((_, d) => allRows.reduce((acc, r) => acc + r[d], 0) / allRows.length);
  const centred = allRows.map((r) => unit(sub(r, centre)));
  const classRows = centred.slice(0, o.classWords.length);
  const similarity = new Map(phrases.map((ph, k) => [ph, Math.max(...classRows.map((c) => dot(centred[o.classWords.length + k], c)))]));
  let done = 0;
  for (const plan of plans) {
    if (o.shouldStop?.()) break;
    const image = keep(tidy(() => narrow(o.images, 0, plan.i, 1)));
    // One inversion per face: every edit of it starts from the same caption.
    const inversion = await lanceInversion({ pipe: o.pipe, image, caption: plan.caption, steps: o.steps ?? 10, innerSteps: o.innerSteps });
    let reconstructed: boolean | null = null;
    for (const e of plan.edits) {
      const label = o.labels[plan.i];
      if (!editKeepsClass(e, o.classWords, (a) => similarity.get(a) ?? 0)) {
        edits.push({
          ...e, image: plan.i, kept: false, why: 'touches the class', directional: 0, imageSimilarity: 0, pSource: 0, pEdit: 0, deltaP: 0, selfReplace: 0,
          correct: false,
        });
        o.onEdit?.(++done, total);
        continue;
      }
      const [tOld, tNew] = await textRows([e.caption, e.edited]);
      const dt = unit(sub(tNew, tOld));
      const r = await lanceEdit({
        pipe: o.pipe, image, caption: e.caption, edited: e.edited, steps: o.steps ?? 10, innerSteps: o.innerSteps, selfReplace: o.selfReplace, inversion,
        score: async (s, x) => dot(unit(sub(await imageRow(x), await imageRow(s))), dt),
      });
      const [es, ee] = [await imageRow(r.source), await imageRow(r.edit)];
      const directional = dot(unit(sub(ee, es)), dt);
      const imageSimilarity = dot(es, ee);
      const closer = dot(ee, tNew) > dot(ee, tOld);
      const [ps] = await probs(o.classify, r.source);
      const [pe] = await probs(o.classify, r.edit);
      reconstructed ??= ps.indexOf(Math.max(...ps)) === label;
      const why = directional < (o.minDirectional ?? 0.1) ? 'directional similarity' : imageSimilarity < (o.minImageSimilarity ?? 0.7) ? 'image similarity'
        : !closer && o.requireCloser !== false ? 'closer to the old caption' : undefined;
      const [src, ed] = [(await readItems(r.source))[0], (await readItems(r.edit))[0]];
      edits.push({
        ...e, image: plan.i, kept: !why, why, directional, imageSimilarity, pSource: ps[label], pEdit: pe[label], deltaP: pe[label] - ps[label],
        correct: pe.indexOf(Math.max(...pe)) === label,
        selfReplace: r.selfReplace, ...(why ? {} : { source: src, edit: ed }),
      });
      r.source.dispose();
      r.edit.dispose();
      o.onEdit?.(++done, total);
    }
    if (reconstructed !== null) recon.push(reconstructed);
    disposeInversion(inversion);
    image.dispose();
  }
  const kept = edits.filter((e) => e.kept);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  const byType: LanceResult['byType'] = {};
  for (const t of new Set(kept.map((e) => e.type))) {
    const of = kept.filter((e) => e.type === t);
    byType[t as EditType] = { edits: of.length, meanDeltaP: mean(of.map((e) => e.deltaP)) };
  }
  const clusters = await clusterEdits(kept, textRows, o.clusters ?? 4);
  const realAcc = mean(realP.map((p, i) => Number(p.indexOf(Math.max(...p)) === o.labels[i])));
  const editedAcc = mean(kept.map((e) => Number(e.correct)));
  const reconAcc = mean(recon.map(Number));
  return {
    edits, byType, clusters, accuracy: { real: realAcc, reconstructed: reconAcc, edited: editedAcc },
    deltaAcc: editedAcc - reconAcc, reconstructionControl: reconAcc - realAcc,
  };
}

/** k-means (k-means++ seeding, fixed order) over the unit text changes of the kept edits; clusters by mean Δp, lowest first. */
async function clusterEdits(
  kept: LanceEditRecord[], textRows: (t: string[]) => Promise<Float32Array[]>, k: number,
): Promise<LanceResult['clusters']> {
  if (!kept.length) return [];
  const rows: Float32Array[] = [];
  for (const e of kept) {
    const [a, b] = await textRows([e.caption, e.edited]);
    rows.push(unit(sub(b, a)));
  }
  const K = Math.min(k, rows.length);
  const centres = [rows[0]];
  while (centres.length < K) {
    const far = rows.map((r) => Math.min(...centres.map((c) => 1 - dot(r, c))));
    centres.push(rows[far.indexOf(Math.max(...far))]);
  }
  let assign = rows.map(() => 0);
  for (let it = 0; it < 20; it++) {
    assign = rows.map((r) => centres.reduce((best, c, j) => (dot(r, c) > dot(r, centres[best]) ? j : best), 0));
    for (let j = 0; j < K; j++) {
      const mine = rows.filter((_, i) => assign[i] === j);
      if (mine.length) centres[j] = unit(mine.reduce((s, r) => s.map((v, d) => v + r[d]), new Float32Array(r0len(rows))));
    }
  }
  const out = Array.from({ length: K }, (_, j) => {
    const of = kept.filter((_, i) => assign[i] === j);
    return { phrases: [...new Set(of.map((e) => e.to))], edits: of.length, meanDeltaP: of.reduce((s, e) => s + e.deltaP, 0) / Math.max(1, of.length) };
  }).filter((c) => c.edits > 0);
  return out.sort((a, b) => a.meanDeltaP - b.meanDeltaP);
}

const r0len = (rows: Float32Array[]) => rows[0].length;
