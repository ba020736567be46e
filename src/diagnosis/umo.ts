// UMO's edit search (Algorithm 1): k edit directions Δ_j in the generator's h-space (the UNet's
// mid-block output), each initialised from N(0, 0.01²); per batch every image is assigned the edit that
// flips it best (the lowest L_target, winner-take-all) and each edit is optimised on its own images only:
//   L_j = α·L_target + β·L_CLIP + γ·(1 − SSIM(edit, original)) + λ·mean|Δ_j|
// (α 1, β 10, γ 100 as the paper; the L1 term is a mean so that λ does not scale with the h-space size).
// Images are NCHW in [-1, 1] throughout; targets and CLIP adapt them to their own inputs.
import { noGrad } from '../autograd/grad-mode.js';
import { keep, tidy } from '../autograd/scope.js';
import { backward } from '../autograd/engine.js';
import type { Tensor } from '../autograd/tensor.js';
import { Adam } from '../nn/optim.js';
import { randn } from '../ops/creation.js';
import { abs, add, mul, sub } from '../ops/elementwise.js';
import { indexSelect } from '../ops/gather.js';
import { mean } from '../ops/reduce.js';
import { narrow } from '../ops/shape.js';
import { ssim } from '../ops/ssim.js';
import type { CLIPModel } from '../models/clip/clip-model.js';
import { clipConsistencyLoss } from './clip-regularizer.js';
import { pickGoals, type DiagnosisTarget, type TargetGoal } from './targets.js';
import type { HSpaceGenerator } from './generators.js';

export interface UmoOptions {
  generator: HSpaceGenerator;
  target: DiagnosisTarget;
  /** Real images, NCHW in [-1, 1]. */
  images: Tensor;
  /** Edit directions (default 4). */
  k?: number;
  /** Passes over the images (default 10). */
  iterations?: number;
  /** Images per step (default 8). */
  batchSize?: number;
  alpha?: number;
  beta?: number;
  gamma?: number;
  /** Weight of mean|Δ| (default 1). */
  l1?: number;
  /** Adam step size of the directions (default 0.01). */
  lr?: number;
  seed?: number;
  /** L_CLIP: the CLIP model and unit prompt features of the labelled attribute's values (see clip-regularizer.ts). */
  clip?: { model: CLIPModel; prompts: Tensor };
  onProgress?: (line: string) => void;
  /** Checked after every pass: true stops the search with the directions so far (Ctrl-C keeps what was done). */
  shouldStop?: () => boolean;
}

export interface UmoIteration { iteration: number; loss: number[]; targetLoss: number[]; images: number[] }

export interface UmoResult {
  /** The k directions [1, C, h, w] (the caller disposes them). */
  directions: Tensor[];
  /** Per image, the edit that flips it best at the end. */
  assignment: number[];
  /** Per image, whether its assigned edit flips the target. */
  flipped: boolean[];
  history: UmoIteration[];
}

const pick = pickGoals;

/** L_target of each image of a batch under one edit (no gradient). */
async function perImageLoss(o: Pick<UmoOptions, 'target' | 'generator'>, z: Tensor, delta: Tensor, goal: TargetGoal): Promise<number[]> {
  const out = keep(noGrad(() => tidy(() => o.target.forward(o.generator.decode(z, delta)))));
  const losses: number[] = [];
  for (let n = 0; n < z.shape[0]; n++) {
    const l = noGrad(() => tidy(() => o.target.loss(narrow(out, 0, n, 1), pick(goal, [n]))));
    losses.push(await l.item());
    l.dispose();
  }
  out.dispose();
  return losses;
}

/** Winner-take-all: each image's best edit by L_target (latents z of the images, their goals). */
export async function assignEdits(o: Pick<UmoOptions, 'target' | 'generator'>, z: Tensor, directions: readonly Tensor[], goal: TargetGoal): Promise<number[]> {
  const per: number[][] = [];
  for (const d of directions) per.push(await perImageLoss(o, z, d, goal));
  return Array.from({ length: z.shape[0] }, (_, n) => per.reduce((best, l, j) => (l[n] < per[best][n] ? j : best), 0));
}

export async function umo(o: UmoOptions): Promise<UmoResult> {
  const { generator: gen, target, images } = o;
  const N = images.shape[0];
  const k = o.k ?? 4;
  const [alpha, beta, gamma, l1] = [o.alpha ?? 1, o.beta ?? 10, o.gamma ?? 100, o.l1 ?? 1];
  const log = o.onProgress ?? (() => {});
  const z = keep(gen.invert(images));
  const out0 = keep(noGrad(() => tidy(() => target.forward(images))));
  const goal = await target.goal(out0);
  out0.dispose();
  const directions = Array.from({ length: k }, (_, j) => {
    const d = keep(noGrad(() => mul(randn(gen.hShape, { seed: (o.seed ?? 0) * 1009 + j }), 0.01)));
    d.requiresGrad_(true);
    return d;
  });
  const opts = directions.map((d) => new Adam([d], { lr: o.lr ?? 0.01 }));
  const B = o.batchSize ?? 8;
  const history: UmoIteration[] = [];
  for (let it = 0; it < (o.iterations ?? 10) && !(it > 0 && o.shouldStop?.()); it++) {
    const loss = new Array<number>(k).fill(0);
    const targetLoss = new Array<number>(k).fill(0);
    const count = new Array<number>(k).fill(0);
    for (let b0 = 0; b0 < N; b0 += B) {
      const ids = Array.from({ length: Math.min(B, N - b0) }, (_, i) => b0 + i);
      const zb = keep(tidy(() => indexSelect(z, 0, ids)));
      const winners = await assignEdits(o, zb, directions, pick(goal, ids));
      for (let j = 0; j < k; j++) {
        const mine = winners.flatMap((w, i) => (w === j ? [i] : []));
        if (!mine.length) continue;
        opts[j].zeroGrad();
        const parts = tidy(() => {
          const zs = indexSelect(zb, 0, mine);
          const xs = indexSelect(images, 0, mine.map((i) => ids[i]));
          const edited = gen.decode(zs, directions[j]);
          const lt = target.loss(target.forward(edited), pick(goal, mine.map((i) => ids[i])));
          let l = add(mul(lt, alpha), mul(sub(1, ssim(edited, xs, { dataRange: 2 })), gamma));
          if (o.clip && beta) l = add(l, mul(clipConsistencyLoss(o.clip.model, o.clip.prompts, xs, edited), beta));
          l = add(l, mul(mean(abs(directions[j])), l1));
          return [l, lt];
        });
        backward(parts[0]);
        opts[j].step();
        loss[j] += (await parts[0].item()) * mine.length;
        targetLoss[j] += (await parts[1].item()) * mine.length;
        count[j] += mine.length;
        for (const p of parts) p.dispose();
      }
      zb.dispose();
    }
    const per = (v: number, j: number) => v / Math.max(1, count[j]);
    const entry = { iteration: it, loss: loss.map(per), targetLoss: targetLoss.map(per), images: count };
    history.push(entry);
    log(`umo ${it + 1}/${o.iterations ?? 10}: images per edit ${count.join(' ')}, L_target ${entry.targetLoss.map((v) => v.toFixed(3)).join(' ')}`);
  }
  const assignment = await assignEdits(o, z, directions, goal);
  const flipped = new Array<boolean>(N).fill(false);
  for (let j = 0; j < k; j++) {
    const mine = assignment.flatMap((w, i) => (w === j ? [i] : []));
    if (!mine.length) continue;
    const out = keep(noGrad(() => tidy(() => target.forward(gen.decode(indexSelect(z, 0, mine), directions[j])))));
    (await target.flipped(out, pick(goal, mine))).forEach((f, i) => { flipped[mine[i]] = f; });
    out.dispose();
  }
  z.dispose();
  for (const d of directions) d.requiresGrad_(false);
  return { directions, assignment, flipped, history };
}

/** Decodes images with one direction (for reports): [N, 3, H, W] in [-1, 1]. */
export function applyEdit(gen: HSpaceGenerator, images: Tensor, direction: Tensor | null): Tensor {
  return noGrad(() => tidy(() => {
    const z = gen.invert(images);
    const x = gen.decode(z, direction);
    z.dispose();
    return x;
  }));
}
