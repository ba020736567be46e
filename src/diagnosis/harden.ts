// Counterfactual training (UMO's and ZOOM's "CT"): a classifier is fine-tuned on an even mix of its
// regular training batches and counterfactuals of the same images made against the current model,
// which keep the original labels, so that the features the counterfactuals change stop deciding.
//   umo   k edit directions searched by UMO on the batch (refreshed every `refreshEvery` steps); each
//         image takes the direction that flips it best (winner-take-all);
//   zoom  per-image weights over the attribute directions, optimised against the current model.
// Flip resistance FR-n: the share of images whose decision an n-step counterfactual attack (a per-image
// Δh in h-space, Adam, L_target + γ·(1 − SSIM)) has not flipped.
import { backward } from '../autograd/engine.js';
import { noGrad } from '../autograd/grad-mode.js';
import { keep, tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import type { Module } from '../nn/module.js';
import { Adam } from '../nn/optim.js';
import { fromArray, zeros } from '../ops/creation.js';
import { add, mul, sub } from '../ops/elementwise.js';
import { crossEntropy } from '../ops/loss.js';
import { concat, narrow } from '../ops/shape.js';
import { ssim } from '../ops/ssim.js';
import type { HSpaceGenerator } from './generators.js';
import { finiteLoss, readItems } from './readback.js';
import { classifierTarget, pickGoals } from './targets.js';
import { assignEdits, umo } from './umo.js';
import { zoomCounterfactuals, type ZoomDirection } from './zoom.js';

export interface Batch { images: Tensor; labels: number[] }

export interface HardenOptions {
  /** The classifier being fine-tuned (its parameters are trained in place). */
  model: Module;
  /** Logits of images in [-1, 1] (the caller adapts them to the model's input range). */
  forward: (x: Tensor) => Tensor;
  generator: HSpaceGenerator;
  /** The regular batch of a step: images in [-1, 1] and their labels. */
  regular: (step: number) => Batch;
  steps: number;
  lr?: number;
  method?: 'umo' | 'zoom';
  /** umo: edit directions and how often they are searched again (default 4 and 10 steps). */
  k?: number;
  refreshEvery?: number;
  /** umo: passes of each search (default 2). zoom: weight steps per batch (default 3). */
  searchSteps?: number;
  /** zoom: the attribute directions. */
  directions?: readonly ZoomDirection[];
  onStep?: (step: number, loss: number) => void;
}

/** One fine-tuning run; returns the mean loss of each step. */
export async function harden(o: HardenOptions): Promise<number[]> {
  const params = o.model.parameters();
  const opt = new Adam(params, { lr: o.lr ?? 1e-4 });
  const target = classifierTarget('model', o.forward);
  const losses: number[] = [];
  let dirs: Tensor[] = [];
  const frozen = (f: boolean) => { for (const p of params) p.requiresGrad_(!f); };
  for (let step = 0; step < o.steps; step++) {
    const b = o.regular(step);
    frozen(true);
    o.model.eval();
    let cf: Tensor;
    if ((o.method ?? 'umo') === 'umo') {
      if (step % (o.refreshEvery ?? 10) === 0) {
        for (const d of dirs) d.dispose();
        const r = await umo({
          generator: o.generator, target, images: b.images, k: o.k ?? 4, iterations: o.searchSteps ?? 2, batchSize: b.labels.length, seed: step,
        });
        dirs = r.directions;
      }
      cf = await counterfactualsAlong(o.generator, target, b.images, dirs);
    } else {
      if (!o.directions?.length) throw new Error('cflens: harden --method zoom needs attribute directions');
      const r = await zoomCounterfactuals({
        generator: o.generator, target, images: b.images, directions: o.directions, steps: o.searchSteps ?? 3, batchSize: b.labels.length, keepImages: true,
      }, o.directions.map((_, i) => i));
      cf = fromArray(Float32Array.from(r.images!.flatMap((p) => [...p.edited])), b.images.shape);
    }
    frozen(false);
    o.model.train();
    opt.zeroGrad();
    const l = tidy(() => {
      const loss = crossEntropy(o.forward(concat([b.images, cf], 0)), [...b.labels, ...b.labels]);
      backward(loss);
      return loss;
    });
    opt.step();
    const v = await l.item();
    losses.push(v);
    o.onStep?.(step, v);
    for (const t of [l, cf, b.images]) t.dispose();
  }
  for (const d of dirs) d.dispose();
  opt.dispose();
  frozen(true);
  o.model.eval();
  return losses;
}

/** Each image decoded along the direction that flips it best. */
async function counterfactualsAlong(
  gen: HSpaceGenerator, target: ReturnType<typeof classifierTarget>, images: Tensor, dirs: readonly Tensor[],
): Promise<Tensor> {
  const z = keep(gen.invert(images));
  const out0 = keep(noGrad(() => target.forward(images)));
  const goal = await target.goal(out0);
  out0.dispose();
  const best = await assignEdits({ target, generator: gen }, z, dirs, goal);
  const rows: Tensor[] = [];
  for (let i = 0; i < best.length; i++) rows.push(noGrad(() => tidy(() => gen.decode(narrow(z, 0, i, 1), dirs[best[i]]))));
  const cf = keep(concat(rows, 0));
  for (const r of [...rows, z]) r.dispose();
  return cf;
}

export interface FlipResistance {
  /** n → share of images not flipped after n attack steps. */
  fr: Record<number, number>;
  images: number;
}

/**
 * FR-n for every n of `checkpoints` (e.g. [25, 100]): one attack of max(checkpoints) Adam steps on a
 * per-image Δh, each image's decision read at every checkpoint.
 */
export async function flipResistance(
  forward: (x: Tensor) => Tensor, gen: HSpaceGenerator, images: Tensor, checkpoints: readonly number[], o: { lr?: number; gamma?: number } = {},
): Promise<FlipResistance> {
  const target = classifierTarget('model', forward);
  const N = images.shape[0];
  const z = keep(gen.invert(images));
  const out0 = keep(noGrad(() => target.forward(images)));
  const goal = await target.goal(out0);
  out0.dispose();
  const delta = keep(zeros([N, ...gen.hShape.slice(1)])).requiresGrad_(true);
  const opt = new Adam([delta], { lr: o.lr ?? 0.05 });
  const fr: Record<number, number> = {};
  const last = Math.max(...checkpoints);
  for (let s = 1; s <= last; s++) {
    opt.zeroGrad();
    const l = tidy(() => {
      const x = gen.decode(z, delta);
      const loss = add(mul(target.loss(target.forward(x), goal), N), mul(sub(1, ssim(x, images, { dataRange: 2 })), (o.gamma ?? 10) * N));
      backward(loss);
      return loss;
    });
    opt.step();
    // Read every step: the host waits for the GPU here. Without a wait the host records hundreds of steps ahead,
    // and Dawn on lavapipe crashed (SIGSEGV) with ~10 steps of 16 faces in flight.
    finiteLoss(await l.item(), `flip-resistance attack, step ${s}`);
    l.dispose();
    if (checkpoints.includes(s)) {
      const out = keep(noGrad(() => target.forward(gen.decode(z, delta))));
      const flipped = await target.flipped(out, pickGoals(goal, Array.from({ length: N }, (_, i) => i)));
      fr[s] = flipped.filter((f) => !f).length / N;
      out.dispose();
    }
  }
  for (const t of [z, delta]) t.dispose();
  opt.dispose();
  return { fr, images: N };
}

/** Accuracy of a classifier on images in [-1, 1] with labels (read back once). */
export async function accuracy(forward: (x: Tensor) => Tensor, images: Tensor, labels: readonly number[]): Promise<number> {
  const out = keep(noGrad(() => forward(images)));
  const rows = await readItems(out);
  out.dispose();
  return rows.filter((r, i) => r.indexOf(Math.max(...r)) === labels[i]).length / Math.max(1, labels.length);
}
