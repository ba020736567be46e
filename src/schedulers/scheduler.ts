import type { Tensor } from '../autograd/tensor.js';

export interface StepOptions {
  /**
   * DDIM: 0 deterministic, 1 DDPM-like variance. DDPM takes only 1 (its ancestral step always adds
   * noise); DPM-Solver (deterministic) only 0.
   */
  eta?: number;
  /** Standard normal noise of the sample's shape (seeded by the caller), where the step adds noise. */
  noise?: Tensor;
}

export interface StepResult { prevSample: Tensor; predOriginalSample: Tensor }

/** Inference steps by count, or an explicit (descending) list of timesteps. */
export type TimestepsRequest = number | { timesteps: readonly number[] };

/**
 * What a sampling loop needs of a scheduler (DDIMScheduler, DDPMScheduler,
 * DPMSolverMultistepScheduler, DDIMInverseScheduler). Steps are made of differentiable tensor ops.
 */
export interface Scheduler {
  /** diffusers' class name. */
  readonly className: string;
  readonly alphasCumprod: Float32Array;
  /** The timesteps of the last setTimesteps, in the order the loop visits them. */
  readonly timesteps: number[];
  setTimesteps(request: TimestepsRequest): number[];
  /** One step from `sample` at timestep t; the tensors returned belong to the caller. */
  step(modelOutput: Tensor, t: number, sample: Tensor, opts?: StepOptions): StepResult;
  /** q(x_t | x_0) at timestep t. */
  addNoise(x0: Tensor, noise: Tensor, t: number): Tensor;
  /** Forgets per-loop state (DPM-Solver's previous outputs); setTimesteps does it too. */
  reset(): void;
}
