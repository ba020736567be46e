// ZOOM's counterfactual search over attribute weights (Luo et al., "Zero-shot Model Diagnosis", CVPR
// 2023), in an h-space generator: each image gets weights w over the attributes' edit directions and
//   Δh = Σ_i w_i · s · d_i / ‖d_i‖      (s: the mean norm of the given directions, so w = 1 is a typical learned edit)
// is optimised against  α·L_target + β·(1 − SSIM(edit, original)) + γ·L_CLIP  (the CLIP term keeps the
// labelled attribute itself from changing), by SGD (η = 0.2, w clamped to ±ε) or PGD (signed steps,
// projected to ±ε). Losses are summed over images so that every image's weights get their own gradient.
//   sensitivity  each attribute alone: the mean over images of how far the target moved towards its
//                goal (DiagnosisTarget.progress), normalised over attributes to a histogram (their Eq. 11);
//   flip rates   attributes added one at a time (in a given order, e.g. the histogram's): the share of
//                images whose multi-attribute counterfactual flips the prediction (their Table 1).
import { backward } from '../autograd/engine.js';
import { noGrad } from '../autograd/grad-mode.js';
import { keep, tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import type { CLIPModel } from '../models/clip/clip-model.js';
import { SGD, SignSGD, projectInPlace } from '../nn/optim.js';
import { zeros } from '../ops/creation.js';
import { add, div, mul, sqrt, sub } from '../ops/elementwise.js';
import { indexSelect } from '../ops/gather.js';
import { matmul } from '../ops/matmul.js';
import { sum } from '../ops/reduce.js';
import { concat, narrow, reshape } from '../ops/shape.js';
import { ssim } from '../ops/ssim.js';
import { clipConsistencyLoss } from './clip-regularizer.js';
import { finiteLoss, readItems } from './readback.js';
import type { HSpaceGenerator } from './generators.js';
import { pickGoals, type DiagnosisTarget } from './targets.js';

export interface ZoomDirection { attribute: string; delta: Tensor }

export interface ZoomOptions {
  generator: HSpaceGenerator;
  target: DiagnosisTarget;
  /** Real images, NCHW in [-1, 1]. */
  images: Tensor;
  /** One h-space direction per attribute (e.g. learnDirection's), each of the generator's hShape. */
  directions: readonly ZoomDirection[];
  method?: 'sgd' | 'pgd';
  /** Optimisation steps (default 10). */
  steps?: number;
  /** SGD's η (default 0.2) or PGD's step (default ε / 4). */
  lr?: number;
  /** Bound on every weight, |w_i| ≤ ε (default 2). */
  epsilon?: number;
  alpha?: number;
  beta?: number;
  gamma?: number;
  /** L_CLIP's model and the prompts of the labelled attribute's values (promptFeatures). */
  clip?: { model: CLIPModel; prompts: Tensor };
  /** Images per optimisation batch (default 8). */
  batchSize?: number;
  /** Also read back every image's original, unedited decoding and counterfactual (for reports). */
  keepImages?: boolean;
  onProgress?: (message: string) => void;
  /** Checked between attributes (zoomSensitivity, zoomFlipRates): true stops with the attributes done so far. */
  shouldStop?: () => boolean;
}

export interface ZoomRun {
  /** Attributes optimised jointly. */
  attributes: string[];
  /** Final weights, [image][attribute]. */
  weights: number[][];
  flipped: boolean[];
  progress: number[];
  ssim: number[];
  /** With keepImages: [3, H, W] in [-1, 1] per image. */
  images?: { original: Float32Array; reconstruction: Float32Array; edited: Float32Array }[];
}

export interface ZoomSensitivity {
  attribute: string;
  /** Mean progress of the single-attribute counterfactuals. */
  sensitivity: number;
  /** sensitivity / Σ sensitivity (the histogram). */
  share: number;
  flipRate: number;
  meanAbsWeight: number;
  meanSsim: number;
}

const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);

/** The directions as rows [K, D] of unit norm times their mean norm. */
function directionRows(dirs: readonly ZoomDirection[]): Tensor {
  return tidy(() => {
    const flat = dirs.map((d) => reshape(d.delta, [1, d.delta.size]));
    const rows = concat(flat, 0);
    const norms = sqrt(sum(mul(rows, rows), [1], true));
    const scale = div(sum(norms), dirs.length);
    return mul(div(rows, add(norms, 1e-12)), scale);
  });
}

/** Optimises the weights of `attrs` (indices into o.directions) for every image; one ZoomRun. */
export async function zoomCounterfactuals(o: ZoomOptions, attrs: readonly number[]): Promise<ZoomRun> {
  const { generator: gen, target, images } = o;
  const N = images.shape[0];
  const K = attrs.length;
  const eps = o.epsilon ?? 2;
  const method = o.method ?? 'sgd';
  const [alpha, beta, gamma] = [o.alpha ?? 1, o.beta ?? 10, o.gamma ?? 10];
  const rows = keep(noGrad(() => tidy(() => indexSelect(directionRows(o.directions), 0, [...attrs]))));
  const hShape = gen.hShape.slice(1);
  const z = keep(gen.invert(images));
  const out0 = keep(noGrad(() => tidy(() => target.forward(images))));
  const goal = await target.goal(out0);
  out0.dispose();
  const B = o.batchSize ?? 8;
  const run: ZoomRun = { attributes: attrs.map((i) => o.directions[i].attribute), weights: [], flipped: [], progress: [], ssim: [] };
  for (let b0 = 0; b0 < N; b0 += B) {
    const ids = Array.from({ length: Math.min(B, N - b0) }, (_, i) => b0 + i);
    const zb = keep(tidy(() => indexSelect(z, 0, ids)));
    const xb = keep(tidy(() => indexSelect(images, 0, ids)));
    const g = pickGoals(goal, ids);
    const w = keep(zeros([ids.length, K])).requiresGrad_(true);
    const opt = method === 'sgd' ? new SGD([w], { lr: o.lr ?? 0.2 }) : new SignSGD([w], { lr: o.lr ?? eps / 4 });
    const delta = () => reshape(matmul(w, rows), [ids.length, ...hShape]);
    for (let s = 0; s < (o.steps ?? 10); s++) {
      opt.zeroGrad();
      const l = tidy(() => {
        const edited = gen.decode(zb, delta());
        const n = ids.length;
        let loss = add(mul(target.loss(target.forward(edited), g), alpha * n), mul(sub(1, ssim(edited, xb, { dataRange: 2 })), beta * n));
        if (o.clip && gamma) loss = add(loss, mul(clipConsistencyLoss(o.clip.model, o.clip.prompts, xb, edited), gamma * n));
        backward(loss);
        return loss;
      });
      opt.step();
      projectInPlace(w, { lo: -eps, hi: eps });
      const where = `zoom [${run.attributes.join(', ')}] images ${b0 + 1}–${b0 + ids.length}, step ${s + 1}`;
      const v = finiteLoss(await l.item(), where);
      o.onProgress?.(`${where}: loss ${v.toFixed(4)}`);
      l.dispose();
    }
    const edited = keep(noGrad(() => gen.decode(zb, delta())));
    const out = keep(noGrad(() => target.forward(edited)));
    run.flipped.push(...(await target.flipped(out, g)));
    run.progress.push(...(await target.progress(out, g)));
    for (let i = 0; i < ids.length; i++) {
      const v = noGrad(() => tidy(() => ssim(narrow(edited, 0, i, 1), narrow(xb, 0, i, 1), { dataRange: 2 })));
      run.ssim.push(await v.item());
      v.dispose();
    }
    if (o.keepImages) {
      const recon = keep(noGrad(() => gen.decode(zb, null)));
      const [orig, rec, ed] = [await readItems(xb), await readItems(recon), await readItems(edited)];
      (run.images ??= []).push(...orig.map((original, i) => ({ original, reconstruction: rec[i], edited: ed[i] })));
      recon.dispose();
    }
    const wv = Array.from(await w.toArray());
    for (let i = 0; i < ids.length; i++) run.weights.push(wv.slice(i * K, (i + 1) * K));
    for (const t of [zb, xb, w, edited, out]) t.dispose();
    opt.dispose();
  }
  for (const t of [rows, z]) t.dispose();
  return run;
}

/**
 * Each attribute alone: the sensitivity histogram. `done`: rows of an earlier, interrupted run with the same
 * settings (reused by attribute, --resume); `onAttribute` gets every row as it is measured.
 */
export async function zoomSensitivity(
  o: ZoomOptions, onAttribute?: (done: number, total: number, rows: readonly ZoomSensitivity[]) => void | Promise<void>, done: readonly ZoomSensitivity[] = [],
): Promise<ZoomSensitivity[]> {
  const out: ZoomSensitivity[] = [];
  for (let i = 0; i < o.directions.length && !(i > 0 && o.shouldStop?.()); i++) {
    const before = done.find((d) => d.attribute === o.directions[i].attribute);
    if (before) {
      out.push({ ...before });
      continue;
    }
    const r = await zoomCounterfactuals(o, [i]);
    out.push({
      attribute: o.directions[i].attribute, sensitivity: Math.max(0, mean(r.progress)), share: 0, flipRate: mean(r.flipped.map(Number)),
      meanAbsWeight: mean(r.weights.map((w) => Math.abs(w[0]))), meanSsim: mean(r.ssim),
    });
    await onAttribute?.(i + 1, o.directions.length, out);
  }
  const total = out.reduce((a, s) => a + s.sensitivity, 0);
  for (const s of out) s.share = total > 0 ? s.sensitivity / total : 0;
  return out.sort((a, b) => b.sensitivity - a.sensitivity);
}

/** Flip rate and mean SSIM of multi-attribute counterfactuals, attributes added in `order` (names). */
export async function zoomFlipRates(o: ZoomOptions, order: readonly string[]): Promise<{ attributes: string[]; flipRate: number; meanSsim: number }[]> {
  const idx = order.map((a) => {
    const i = o.directions.findIndex((d) => d.attribute === a);
    if (i < 0) throw new Error(`cflens: zoomFlipRates: no direction for attribute '${a}' (have ${o.directions.map((d) => d.attribute).join(', ')})`);
    return i;
  });
  const rows = [];
  for (let k = 1; k <= idx.length && !(k > 1 && o.shouldStop?.()); k++) {
    const r = await zoomCounterfactuals(o, idx.slice(0, k));
    rows.push({ attributes: r.attributes, flipRate: mean(r.flipped.map(Number)), meanSsim: mean(r.ssim) });
  }
  return rows;
}
