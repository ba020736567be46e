import { denoise } from './denoise.js';
import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { randn } from '../ops/creation.js';
import { add, mul, sub } from '../ops/elementwise.js';
import { concat, narrow } from '../ops/shape.js';
import type { AttentionHook } from '../models/diffusers/attention.js';
import type { DDIMScheduler } from '../schedulers/ddim.js';
import type { Scheduler } from '../schedulers/scheduler.js';

/** What the samplers need of a conditional UNet (UNet2DConditionModel fits). */
export interface ConditionalDenoiser {
  forward(sample: Tensor, timestep: number, context: Tensor, opts?: { attentionHook?: AttentionHook | null }): Tensor;
}

/** What the samplers need of an unconditional UNet (UNet2DModel fits). */
export interface UnconditionalDenoiser {
  forward(sample: Tensor, timestep: number): Tensor;
}

/** One conditioning for all steps, or one per step (DiG-IN optimises C_t and ∅_t per step). */
export type PerStep = Tensor | readonly Tensor[];

const atStep = (c: PerStep | undefined, i: number): Tensor | undefined => (c === undefined ? undefined : Array.isArray(c) ? (c as Tensor[])[i] : (c as Tensor));

/** ε with classifier-free guidance: ε(∅) + s·(ε(c) − ε(∅)), both halves in one batch. */
export function guidedEps(
  unet: ConditionalDenoiser, z: Tensor, t: number, cond: Tensor, uncond: Tensor | undefined, scale: number, hook?: AttentionHook | null,
): Tensor {
  return tidy(() => {
    if (!uncond || scale === 1) return unet.forward(z, t, cond, { attentionHook: hook });
    const b = z.shape[0];
    const eps = unet.forward(concat([z, z], 0), t, concat([uncond, cond], 0), { attentionHook: hook });
    const eu = narrow(eps, 0, 0, b);
    const ec = narrow(eps, 0, b, b);
    return add(eu, mul(sub(ec, eu), scale));
  });
}

export interface DdimSampleOptions {
  unet: ConditionalDenoiser;
  scheduler: Scheduler;
  /** Starting latent x_T. */
  zT: Tensor;
  /** Text conditioning [B, L, D], or one per step. */
  cond: PerStep;
  /** Null-text conditioning for guidance, or one per step. */
  uncond?: PerStep;
  guidanceScale?: number;
  /** Inference steps; the scheduler's timesteps are set to this many. */
  steps: number;
  /** Run only the first `stopAfter` steps (e.g. partial trajectories). */
  stopAfter?: number;
  eta?: number;
  /** Seed of the per-step noise when eta > 0. */
  seed?: number;
  /**
   * Recompute each step's activations in backward instead of keeping them (default true): backprop
   * through N steps then needs about one step's memory.
   */
  checkpointSteps?: boolean;
  /** Attention hook for step i (prompt-to-prompt). */
  attentionHook?: (step: number, t: number) => AttentionHook | null;
  /** Called after every step with the new latent (read-only). */
  onStep?: (step: number, t: number, z: Tensor) => void;
  /** Also return the predicted x0 of every step. */
  keepX0?: boolean;
}

export interface DdimSampleResult { latents: Tensor; x0s: Tensor[]; timesteps: number[] }

/**
 * Deterministic (eta 0) or stochastic DDIM sampling with classifier-free guidance, differentiable end to
 * end w.r.t. zT, every C_t and every ∅_t (and anything the UNet reads that requires grad).
 */
export function ddimSample(o: DdimSampleOptions): DdimSampleResult {
  const s = o.scheduler;
  const timesteps = s.setTimesteps(o.steps).slice(0, o.stopAfter ?? o.steps);
  const scale = o.guidanceScale ?? 7.5;
  const eta = o.eta ?? 0;
  const x0s: Tensor[] = [];
  const checkpointed = o.checkpointSteps ?? true;
  // Made when step i comes (a hook may depend on the steps before it), kept for its recomputation.
  const hooks = new Map<number, AttentionHook | null>();
  const hookOf = (i: number) => {
    if (!hooks.has(i)) hooks.set(i, o.attentionHook?.(i, timesteps[i]) ?? null);
    return hooks.get(i)!;
  };
  const noises = new Map<number, Tensor>();
  const noiseOf = (i: number) => {
    if (eta > 0 && !noises.has(i)) noises.set(i, randn(o.zT.shape, { seed: (o.seed ?? 0) * 1000 + i }));
    return noises.get(i);
  };
  const z = denoise(o.zT, timesteps, (zz, t, i, [c, u]) => {
    const eps = guidedEps(o.unet, zz, t, c, u, scale, hookOf(i));
    const r = s.step(eps, t, zz, { eta, noise: noiseOf(i) });
    if (o.keepX0 && !checkpointed) x0s.push(r.predOriginalSample);
    else r.predOriginalSample.dispose();
    eps.dispose();
    return r.prevSample;
  }, {
    inputs: (i) => [atStep(o.cond, i)!, ...(atStep(o.uncond, i) ? [atStep(o.uncond, i)!] : [])],
    // A hook reads the attention probabilities of this very run: its step is not recomputed.
    checkpointStep: (i) => checkpointed && !hookOf(i),
    afterStep: (i) => noises.get(i)?.dispose(),
    onStep: o.onStep,
  });
  return { latents: z, x0s, timesteps };
}

export interface DdimInvertOptions {
  unet: ConditionalDenoiser;
  scheduler: DDIMScheduler;
  /** The clean latent x_0. */
  x0: Tensor;
  cond: Tensor;
  steps: number;
  /** Invert only the first `stopAfter` steps. */
  stopAfter?: number;
  /** Guidance during inversion (1 = none, as null-text inversion uses). */
  uncond?: Tensor;
  guidanceScale?: number;
}

/** DDIM inversion x_0 → x_T; returns the whole trajectory [x_0, x_1, …]. */
export function ddimInvert(o: DdimInvertOptions): Tensor[] {
  return invertWith(o.scheduler, o.x0, o.steps, (x, t) => guidedEps(o.unet, x, t, o.cond, o.uncond, o.guidanceScale ?? 1), o.stopAfter);
}

/**
 * The inversion loop under any ε-prediction (`epsOf(x, t)`: guided, unconditional, edited): the first
 * `stopAfter` of `steps` DDIM steps upwards from x0; returns the trajectory [x_0, x_1, …].
 */
export function invertWith(s: DDIMScheduler, x0: Tensor, steps: number, epsOf: (x: Tensor, t: number) => Tensor, stopAfter?: number): Tensor[] {
  s.setTimesteps(steps);
  const ascending = [...s.timesteps].reverse();
  const n = stopAfter ?? ascending.length;
  const traj: Tensor[] = [x0];
  let x = x0;
  for (let k = 0; k < n; k++) {
    const t = ascending[k];
    const T = s.config.num_train_timesteps;
    const tNext = k + 1 < ascending.length ? ascending[k + 1] : Math.min(t + T / steps, T - 1);
    const xk = x;
    x = tidy(() => s.invertStep(epsOf(xk, t), t, tNext, xk));
    traj.push(x);
  }
  return traj;
}

/**
 * The timesteps of a partial round trip through `steps` DDIM steps: `down` the first `invertSteps`
 * inversion steps from x0 (t = 0, 100, 200, 300 at 4 of 10), `up` the decoding from there back to t = 0.
 */
export function roundTripTimesteps(s: DDIMScheduler, steps: number, invertSteps: number): { down: number[]; up: number[] } {
  s.setTimesteps(steps);
  const down = [...s.timesteps].reverse().slice(0, invertSteps);
  const tStart = s.nextTimestep(down[down.length - 1]);
  const up = [tStart, ...[...down].reverse().slice(0, -1), 0].filter((t, i, a) => a.indexOf(t) === i);
  return { down, up };
}

/** The latent after the first `stopAfter` inversion steps, without gradients (the rest of the trajectory is freed). */
export function invertPartially(s: DDIMScheduler, x0: Tensor, steps: number, epsOf: (x: Tensor, t: number) => Tensor, stopAfter: number): Tensor {
  const traj = noGrad(() => invertWith(s, x0, steps, epsOf, stopAfter));
  for (const x of traj.slice(1, -1)) x.dispose();
  return traj[traj.length - 1];
}

/** Ancestral-free DDIM sampling for an unconditional UNet (DDPM-trained UNet2DModel). */
export function ddimSampleUnconditional(o: {
  unet: UnconditionalDenoiser; scheduler: Scheduler; xT: Tensor; steps: number; eta?: number; seed?: number; checkpointSteps?: boolean;
}): Tensor {
  const s = o.scheduler;
  s.setTimesteps(o.steps);
  const noises = new Map<number, Tensor>();
  const noiseOf = (i: number) => {
    if ((o.eta ?? 0) > 0 && !noises.has(i)) noises.set(i, randn(o.xT.shape, { seed: (o.seed ?? 0) * 1000 + i }));
    return noises.get(i);
  };
  return denoise(o.xT, s.timesteps, (xx, t, i) => tidy(() => s.step(o.unet.forward(xx, t), t, xx, { eta: o.eta, noise: noiseOf(i) }).prevSample), {
    checkpointStep: () => o.checkpointSteps !== false,
    afterStep: (i) => noises.get(i)?.dispose(),
  });
}
