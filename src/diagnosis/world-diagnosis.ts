// A diagnosis of a target classifier on the synthetic world, in two parts:
//  1. exact counterfactuals: every attribute of held-out faces is changed alone by the renderer, and
//     the target's flip rate and probability shift per attribute are measured (ground truth of what
//     the model is sensitive to);
//  2. generative counterfactuals: real faces are DDIM-inverted part way with the default DDPM, the
//     noisy latent is optimised (through the checkpointed DDIM decoder) until the target's decision
//     flips while the image stays close, and the attribute reader names what the edit changed.
import { denoise } from '../pipelines/denoise.js';
import { invertPartially, roundTripTimesteps } from '../pipelines/sampling.js';
import { backward } from '../autograd/engine.js';
import { noGrad } from '../autograd/grad-mode.js';
import { keep, tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { fromArray } from '../ops/creation.js';
import { add, mul } from '../ops/elementwise.js';
import { crossEntropy, mseLoss } from '../ops/loss.js';
import { softmax } from '../ops/softmax.js';
import { Adam } from '../nn/optim.js';
import type { Module } from '../nn/module.js';
import type { UNet2DModel } from '../models/diffusers/unet-2d.js';
import type { SmallConvNet } from '../models/small/convnet.js';
import { changedAttributes, type AttributeReader } from './attribute-reader.js';
import { classifierTarget, type DiagnosisTarget } from './targets.js';
import { ATTRIBUTES, attributeWord, type Attributes, type AttributeName } from '../world/attributes.js';
import { WorldDataset } from '../world/dataset.js';
import { decodeColumns, type AttributeReading } from '../world/attribute-columns.js';
import { Rng, hashSeed } from '../world/rng.js';
import { otherValue } from '../world/counterfactual.js';
import type { DDIMScheduler } from '../schedulers/ddim.js';

export interface AttributeSensitivity {
  attribute: AttributeName;
  /** Fraction of faces whose predicted class changed when only this attribute changed. */
  flipRate: number;
  /** Mean |Δ p(class 1)|. */
  meanAbsDelta: number;
}

export interface CounterfactualPair {
  /** Pixels [3, S, S] in [0, 1]: the real face, its reconstruction, the counterfactual. */
  original: Float32Array;
  before: Float32Array;
  after: Float32Array;
  /** True attributes of the real face, and what the attribute reader reads before / after. */
  attributes: Attributes;
  readBefore: AttributeReading;
  readAfter: AttributeReading;
  /** Target's p(class 1) before and after, and whether its decision flipped. */
  pBefore: number;
  pAfter: number;
  flipped: boolean;
  /** Attributes the reader reads differently after the edit. */
  changed: string[];
  /** Mean absolute pixel change (0–1 scale). */
  pixelChange: number;
}

export interface WorldDiagnosisOptions {
  target: SmallConvNet;
  /** Label feature and spurious feature of the target's held-out set (from its config). */
  label: string;
  spurious?: string | null;
  /** Names what each counterfactual changed (the world CLIP's image tower: clipAttributeReader). */
  reader: AttributeReader;
  unet: UNet2DModel;
  scheduler: DDIMScheduler;
  size?: number;
  /** Held-out faces for the exact counterfactuals (default 64). */
  faces?: number;
  /** Real faces to explain with generative counterfactuals (default 4; 0 skips that part). */
  counterfactuals?: number;
  /** DDIM steps of the whole schedule (default 10) and how many of them are inverted (default 4: t = 400). */
  ddimSteps?: number;
  invertSteps?: number;
  /** Optimisation of the latent: iterations, Adam learning rate, weight of the pixel distance. */
  iterations?: number;
  lr?: number;
  proximity?: number;
  seed?: number;
  onProgress?: (message: string) => void;
  /** Where each model came from (folders), named in error messages. */
  names?: { target?: string; reader?: string; unet?: string };
}

export interface WorldDiagnosis {
  label: string;
  spurious: string | null;
  heldOut: { n: number; accuracy: number; conflictingAccuracy: number };
  sensitivity: AttributeSensitivity[];
  counterfactuals: CounterfactualPair[];
  /** How often each attribute changed among the counterfactuals that flipped the decision. */
  changedCounts: Record<string, number>;
  flipped: number;
}

function freeze(...ms: Module[]): void {
  for (const m of ms) m.freeze();
}

async function host(t: Tensor): Promise<Float32Array> {
  const a = (await t.toArray()) as Float32Array;
  t.dispose();
  return a;
}

/**
 * Stops the diagnosis when a model produced NaN or ±inf: corrupt weights or a broken adapter would
 * otherwise give a confident report of nonsense.
 */
function requireFinite(values: ArrayLike<number>, what: string): void {
  let bad = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) bad++;
  if (bad) {
    throw new Error(
      `cflens: ${what} produced ${bad} non-finite values (NaN or ±inf) of ${values.length}: ` +
      'its weights are probably corrupt (check them with `cflens inspect`) or the GPU adapter is faulty (`cflens doctor`); no report was written',
    );
  }
}

/** p(class 1) of the target for images in [0, 1]. */
export async function targetProbs(o: Pick<WorldDiagnosisOptions, 'target' | 'names'>, images: Float32Array, n: number, size: number): Promise<number[]> {
  const p = await host(noGrad(() => tidy(() => softmax(o.target.forward(fromArray(images, [n, 3, size, size])), 1))));
  requireFinite(p, `the target classifier${o.names?.target ? ` (${o.names.target})` : ''}`);
  return Array.from({ length: n }, (_, i) => p[2 * i + 1]);
}

export async function diagnoseWorld(o: WorldDiagnosisOptions): Promise<WorldDiagnosis> {
  const size = o.size ?? 32;
  const seed = o.seed ?? 0;
  const log = o.onProgress ?? (() => {});
  freeze(o.target, o.unet);
  const ds = new WorldDataset({
    label: o.label, spurious: o.spurious ?? undefined, n: o.faces ?? 64, balanced: Boolean(o.spurious), seed: hashSeed(seed, 0xd1a9), size,
  });
  const all = ds.all();
  const p0 = await targetProbs(o, all.images, ds.n, size);
  const correct = p0.map((p, i) => (p > 0.5 ? 1 : 0) === ds.labels[i]);
  const conflicting = o.spurious ? [...ds.cell('1,0'), ...ds.cell('0,1')] : [];
  const heldOut = {
    n: ds.n,
    accuracy: correct.filter(Boolean).length / ds.n,
    conflictingAccuracy: conflicting.length ? conflicting.filter((i) => correct[i]).length / conflicting.length : NaN,
  };
  log(`held-out accuracy ${(100 * heldOut.accuracy).toFixed(1)}%, bias-conflicting ${(100 * heldOut.conflictingAccuracy).toFixed(1)}% (${ds.n} faces)`);

  // 1. Exact counterfactuals, one attribute at a time.
  const sensitivity = await exactTargetSensitivity(classifierTarget(o.names?.target ?? 'target', (x) => o.target.forward(x)), ds, seed, size);
  log(`most sensitive to: ${sensitivity.slice(0, 3).map((s) => `${s.attribute} (flips ${(100 * s.flipRate).toFixed(0)}%)`).join(', ')}`);

  // 2. Generative counterfactuals of the first faces (bias-conflicting ones first when there are).
  const k = o.counterfactuals ?? 4;
  const order = [...conflicting, ...Array.from({ length: ds.n }, (_, i) => i).filter((i) => !conflicting.includes(i))].slice(0, k);
  const counterfactuals: CounterfactualPair[] = [];
  if (k > 0) counterfactuals.push(...(await generativeCounterfactuals(o, ds, order, p0, size, log)));
  const changedCounts: Record<string, number> = {};
  for (const c of counterfactuals) if (c.flipped) for (const a of c.changed) changedCounts[a] = (changedCounts[a] ?? 0) + 1;
  return {
    label: o.label, spurious: o.spurious ?? null, heldOut, sensitivity, counterfactuals, changedCounts,
    flipped: counterfactuals.filter((c) => c.flipped).length,
  };
}

/**
 * The exact oracle for any diagnosis target: every attribute of the faces of `ds` (rendered in the
 * range the target's forward takes) changed alone by the renderer; per attribute, the mean over faces of
 * |progress| of the counterfactual's outputs from the original's (DiagnosisTarget.progress: for a
 * classifier |Δ p(predicted class)|, for keypoints the displacement as a share of the goal's distance,
 * for a segmenter the share of pixels that change class) and the flip rate; most sensitive first.
 */
export async function exactTargetSensitivity(target: DiagnosisTarget, ds: WorldDataset, seed: number, size: number): Promise<AttributeSensitivity[]> {
  const per = 3 * size * size;
  const outputs = async (images: Float32Array) => keep(noGrad(() => tidy(() => target.forward(fromArray(images, [ds.n, 3, size, size])))));
  const out0 = await outputs(ds.all().images);
  const goal = await target.goal(out0);
  out0.dispose();
  const sensitivity: AttributeSensitivity[] = [];
  for (const spec of ATTRIBUTES) {
    const rng = new Rng(hashSeed(seed, spec.name.length, 17));
    const imgs = new Float32Array(ds.n * per);
    for (let i = 0; i < ds.n; i++) imgs.set(ds.counterfactual(i, otherValue(ds.attributes[i], spec.name, rng)).image, i * per);
    const out = await outputs(imgs);
    const progress = await target.progress(out, goal);
    const flipped = await target.flipped(out, goal);
    out.dispose();
    requireFinite(progress, `the target ${target.name}`);
    sensitivity.push({
      attribute: spec.name, meanAbsDelta: progress.reduce((a, v) => a + Math.abs(v), 0) / ds.n, flipRate: flipped.filter(Boolean).length / ds.n,
    });
  }
  return sensitivity.sort((a, b) => b.meanAbsDelta - a.meanAbsDelta);
}

/** The DDIM timesteps of the search: `down` inverts x0 to t_start, `up` decodes back to t = 0. */
const searchSchedule = (o: WorldDiagnosisOptions) => roundTripTimesteps(o.scheduler, o.ddimSteps ?? 10, o.invertSteps ?? 4);

/** The first `steps` DDIM inversion steps of the DDPM from x0, without gradients; only the last latent is kept. */
const invert = (o: WorldDiagnosisOptions, x0: Tensor, steps: number) =>
  invertPartially(o.scheduler, x0, o.ddimSteps ?? 10, (x, t) => o.unet.forward(x, t), steps);

/** x_t → x_0 through the checkpointed DDIM steps of `up`. */
function decodeLatent(o: WorldDiagnosisOptions, up: number[], zt: Tensor): Tensor {
  return denoise(zt, up, (xx, t) => tidy(() => o.scheduler.step(o.unet.forward(xx, t), t, xx).prevSample));
}

/** The search objective (flip the target's decision, stay close to `before01`), backpropagated. */
function searchLoss(o: WorldDiagnosisOptions, up: number[], latent: Tensor, before01: Tensor, wanted: number[]): Tensor {
  return tidy(() => {
    const x01 = mul(add(decodeLatent(o, up, latent), 1), 0.5);
    const l = add(crossEntropy(o.target.forward(x01), wanted), mul(mseLoss(x01, before01), o.proximity ?? 10));
    backward(l);
    return l;
  });
}

/**
 * Launches every kernel diagnoseWorld launches at these sizes — the target and the reader on a batch,
 * the DDPM's inversion, the checkpointed decoding with its backward, the optimiser step — on garbage
 * values, for traceKernels/precompile (nothing is read back; every tensor is freed).
 */
export function diagnosisKernels(o: WorldDiagnosisOptions): void {
  const size = o.size ?? 32;
  const k = Math.min(o.counterfactuals ?? 4, o.faces ?? 64);
  const batch = (n: number) => fromArray(new Float32Array(n * 3 * size * size), [n, 3, size, size]);
  freeze(o.target, o.unet);
  tidy(() => {
    noGrad(() => softmax(o.target.forward(batch(o.faces ?? 64)), 1));
    if (k === 0) return;
    const { up } = searchSchedule(o);
    const z = invert(o, batch(k), 1);
    noGrad(() => o.reader.logits(batch(k)));
    const before01 = noGrad(() => mul(add(decodeLatent(o, up, z), 1), 0.5));
    const latent = batch(k).requiresGrad_(true);
    const opt = new Adam([latent], { lr: 0.05 });
    searchLoss(o, up, latent, before01, Array.from({ length: k }, () => 0));
    opt.step();
    opt.zeroGrad();
    opt.dispose();
  });
}

async function generativeCounterfactuals(
  o: WorldDiagnosisOptions, ds: WorldDataset, idx: number[], p0: number[], size: number, log: (m: string) => void,
): Promise<CounterfactualPair[]> {
  const n = idx.length;
  const { down, up } = searchSchedule(o);
  const b = ds.batch(idx);
  const x0 = fromArray(b.images.map((v) => 2 * v - 1), [n, 3, size, size]);
  // DDIM inversion to t_start.
  const z = invert(o, x0, down.length);
  const decode = (zt: Tensor) => decodeLatent(o, up, zt);
  const before01 = keep(noGrad(() => tidy(() => mul(add(decode(z), 1), 0.5))));
  const wanted = idx.map((i) => (p0[i] > 0.5 ? 0 : 1));
  const latent = keep(noGrad(() => tidy(() => mul(z, 1))));
  if (z !== x0) z.dispose();
  latent.requiresGrad_(true);
  const opt = new Adam([latent], { lr: o.lr ?? 0.05 });
  const iterations = o.iterations ?? 8;
  for (let it = 0; it < iterations; it++) {
    const loss = searchLoss(o, up, latent, before01, wanted);
    opt.step();
    opt.zeroGrad();
    const value = await loss.item();
    requireFinite([value], `the counterfactual search's loss (through the DDPM${o.names?.unet ? ` ${o.names.unet}` : ''})`);
    log(`counterfactual search ${it + 1}/${iterations}: loss ${value.toFixed(4)}`);
    loss.dispose();
  }
  const after01 = noGrad(() => tidy(() => mul(add(decode(latent), 1), 0.5)));
  opt.dispose();
  latent.dispose();
  x0.dispose();
  const bh = await host(before01);
  const ah = await host(after01);
  requireFinite(bh, `the DDPM${o.names?.unet ? ` (${o.names.unet})` : ''}`);
  requireFinite(ah, `the DDPM${o.names?.unet ? ` (${o.names.unet})` : ''}`);
  const pB = await targetProbs(o, bh, n, size);
  const pA = await targetProbs(o, ah, n, size);
  const read = async (imgs01: Float32Array) => {
    const r = await host(noGrad(() => tidy(() => o.reader.logits(fromArray(imgs01.map((v) => 2 * v - 1), [n, 3, size, size])))));
    requireFinite(r, `the attribute reader (${o.reader.name}${o.names?.reader ? `, ${o.names.reader}` : ''})`);
    const per = r.length / n;
    return Array.from({ length: n }, (_, i) => decodeColumns(r, i * per, o.reader.groups));
  };
  const prB = await read(bh);
  const prA = await read(ah);
  const per = 3 * size * size;
  return idx.map((i, j) => {
    const before = bh.slice(j * per, (j + 1) * per);
    const after = ah.slice(j * per, (j + 1) * per);
    let change = 0;
    for (let q = 0; q < per; q++) change += Math.abs(after[q] - before[q]);
    return {
      original: b.images.slice(j * per, (j + 1) * per),
      before, after,
      attributes: ds.attributes[i],
      readBefore: prB[j], readAfter: prA[j],
      pBefore: pB[j], pAfter: pA[j],
      flipped: (pB[j] > 0.5) !== (pA[j] > 0.5),
      changed: changedAttributes(prB[j], prA[j]),
      pixelChange: change / per,
    };
  });
}

/** "smiling → neutral, blond hair → brown hair" for a pair. */
export function describeChange(c: CounterfactualPair): string {
  return c.changed.map((a) => {
    const w = (v: string | boolean) => attributeWord({ ...c.attributes, [a]: v } as Attributes, a as AttributeName);
    return `${w(c.readBefore[a])} → ${w(c.readAfter[a])}`;
  }).join(', ') || 'no attribute the reader reads';
}
