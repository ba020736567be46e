// UMO's edit search (Algorithm 1): k edit directions Δ_j in the generator's h-space (the UNet's
// mid-block output), each initialised from N(0, 0.01²); per batch every image is assigned the edit that
// flips it best (the lowest L_target, winner-take-all) and each edit is optimised on its own images only:
//   L_j = α·L_target + β·L_CLIP + γ·(1 − SSIM(edit, original)) + λ·mean|Δ_j|
// (α 1 and β 10 as the paper; the L1 term is a mean so that λ does not scale with the h-space size).
// γ and the step size are not the paper's: see UMO_GAMMA and UMO_LR.
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
import { finiteLoss } from './readback.js';
import { pickGoals, type DiagnosisTarget, type TargetGoal } from './targets.js';
import type { UmoState } from './umo-state.js';
import type { HSpaceGenerator } from './generators.js';

/**
 * Weight of 1 − SSIM. The paper's 100 (SSIM of 256² images) freezes the search on 32² world faces, whose SSIM
 * falls ~10× faster for the same edit: one edit on 8 faces of smile_blond through the DDPM, 8 Adam steps —
 * γ 100: L_target 2.32 → 2.14, none flipped; γ 10: 2.32 → 0.97, 4 of 8 flipped.
 */
export const UMO_GAMMA = 10;
/**
 * Adam step of the directions. Adam moves each element by about the step size, and flips need mean |Δh| ≈ 0.3
 * in the world DDPM's h-space: 0.1 gets there in the few passes a CPU run affords (0.01 needed ~30).
 */
export const UMO_LR = 0.1;

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
  /** Adam step size of the directions (default UMO_LR). */
  lr?: number;
  seed?: number;
  /** L_CLIP: the CLIP model and unit prompt features of the labelled attribute's values (see clip-regularizer.ts). */
  clip?: { model: CLIPModel; prompts: Tensor };
  onProgress?: (line: string) => void;
  /** Checked after every pass: true stops the search with the directions so far (Ctrl-C keeps what was done). */
  shouldStop?: () => boolean;
  /** Continues a search from its state after some pass (same images, k and generator); passes run up to `iterations`. */
  resume?: UmoState;
  /** Called after every pass with the search's state (to store for `resume`). */
  onPass?: (state: UmoState) => Promise<void>;
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
  const [alpha, beta, gamma, l1] = [o.alpha ?? 1, o.beta ?? 10, o.gamma ?? UMO_GAMMA, o.l1 ?? 1];
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
  const opts = directions.map((d) => new Adam([d], { lr: o.lr ?? UMO_LR }));
  const history: UmoIteration[] = [];
  if (o.resume) restoreState(o.resume, directions, opts, history);
  const B = o.batchSize ?? 8;
  for (let it = history.length; it < (o.iterations ?? 10) && !(it > 0 && o.shouldStop?.()); it++) {
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
        loss[j] += finiteLoss(await parts[0].item(), `umo pass ${it + 1}, edit ${j + 1}`) * mine.length;
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
    if (o.onPass) await o.onPass(await searchState(directions, opts, history));
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

/**
 * One UMO step (inversion, edited decoding with its gradient, the losses, an Adam step) for precompile()'s
 * trace: the kernels of a search, compiled before it with progress instead of at its first steps. `goal`: the
 * images' goals (target.goal of their outputs); tensor values do not matter.
 */
export function umoStepKernels(o: UmoOptions, goal: TargetGoal): void {
  const n = Math.min(o.batchSize ?? 8, o.images.shape[0]);
  const ids = Array.from({ length: n }, (_, i) => i);
  tidy(() => {
    const xs = indexSelect(o.images, 0, ids);
    const z = o.generator.invert(xs);
    const d = randn(o.generator.hShape).requiresGrad_(true);
    const edited = o.generator.decode(z, d);
    let l = add(o.target.loss(o.target.forward(edited), pick(goal, ids)), sub(1, ssim(edited, xs, { dataRange: 2 })));
    if (o.clip) l = add(l, clipConsistencyLoss(o.clip.model, o.clip.prompts, xs, edited));
    backward(add(l, mean(abs(d))));
    const opt = new Adam([d], { lr: 0.1 });
    opt.step();
    opt.dispose();
    noGrad(() => o.target.forward(o.generator.decode(z, null)));
  });
}

async function searchState(directions: readonly Tensor[], opts: readonly Adam[], history: readonly UmoIteration[]): Promise<UmoState> {
  const host = async (t: Tensor) => Float32Array.from(await t.toArray());
  return {
    pass: history.length, shape: [...directions[0].shape], directions: await Promise.all(directions.map(host)),
    optimizers: await Promise.all(opts.map(async (a) => ({ steps: a.steps, values: await Promise.all(a.stateTensors().map(host)) }))),
    history: [...history],
  };
}

function restoreState(s: UmoState, directions: readonly Tensor[], opts: readonly Adam[], history: UmoIteration[]): void {
  const want = directions[0].shape;
  if (s.directions.length !== directions.length || s.shape.join() !== want.join()) {
    throw new Error(
      `cflens: the UMO state to resume has ${s.directions.length} directions of [${s.shape.join(', ')}], this search ` +
      `${directions.length} of [${want.join(', ')}]: resume with the same --k and --generator, or start a new run`,
    );
  }
  directions.forEach((d, j) => d.ctx.overwrite(d.buffer, s.directions[j]));
  opts.forEach((a, j) => a.loadState(s.optimizers[j].steps, s.optimizers[j].values));
  history.push(...s.history);
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
