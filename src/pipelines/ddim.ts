import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { add, clamp, mul, sub } from '../ops/elementwise.js';
import { alphasCumprod, inferenceTimesteps, makeBetas, resolveConfig, type SchedulerConfig } from './schedule.js';

/** x0 and ε from a model output under the configured prediction type. */
export function splitPrediction(c: SchedulerConfig, modelOutput: Tensor, x: Tensor, alphaProd: number): { x0: Tensor; eps: Tensor } {
  const a = Math.sqrt(alphaProd);
  const b = Math.sqrt(1 - alphaProd);
  switch (c.prediction_type) {
    case 'epsilon':
      return { x0: mul(sub(x, mul(modelOutput, b)), 1 / a), eps: modelOutput };
    case 'v_prediction':
      return { x0: sub(mul(x, a), mul(modelOutput, b)), eps: add(mul(modelOutput, a), mul(x, b)) };
    case 'sample':
      return { x0: modelOutput, eps: mul(sub(x, mul(modelOutput, a)), 1 / b) };
    default:
      throw new Error(`cflens: scheduler: unknown prediction_type '${c.prediction_type as string}'`);
  }
}

export interface DDIMStepOptions {
  /** 0: deterministic DDIM; 1: DDPM-like variance. */
  eta?: number;
  /** Standard normal noise of x's shape, required when eta > 0 (seeded by the caller). */
  noise?: Tensor;
  /** Predicted-x0 override (Asyrp's asymmetric reverse process: x0 from the edited ε, direction from the original). */
  epsForDirection?: Tensor;
}

export interface DDIMStepResult { prevSample: Tensor; predOriginalSample: Tensor }

/**
 * DDIM (Song et al. 2021) configured like diffusers' DDIMScheduler (scheduler_config.json keys).
 * Every step is made of differentiable ops, so gradients flow through a whole sampling loop.
 */
export class DDIMScheduler {
  readonly config: SchedulerConfig;
  readonly betas: Float32Array;
  readonly alphasCumprod: Float32Array;
  readonly finalAlphaCumprod: number;
  timesteps: number[] = [];
  numInferenceSteps = 0;

  constructor(config: Partial<SchedulerConfig> & Record<string, unknown> = {}) {
    this.config = resolveConfig(config);
    this.betas = makeBetas(this.config);
    this.alphasCumprod = alphasCumprod(this.betas);
    this.finalAlphaCumprod = this.config.set_alpha_to_one ? 1 : this.alphasCumprod[0];
  }

  /** From a diffusers scheduler_config.json object. */
  static fromConfig(json: Record<string, unknown>): DDIMScheduler { return new DDIMScheduler(json); }

  setTimesteps(steps: number): number[] {
    this.numInferenceSteps = steps;
    this.timesteps = inferenceTimesteps(this.config, steps);
    return this.timesteps;
  }

  private stepRatio(): number {
    if (!this.numInferenceSteps) throw new Error('cflens: DDIMScheduler: call setTimesteps(n) before step()');
    return Math.floor(this.config.num_train_timesteps / this.numInferenceSteps);
  }

  alphaProd(t: number): number {
    return t >= 0 ? this.alphasCumprod[t] : this.finalAlphaCumprod;
  }

  previousTimestep(t: number): number { return t - this.stepRatio(); }

  /** Next (noisier) timestep for inversion. */
  nextTimestep(t: number): number { return Math.min(t + this.stepRatio(), this.config.num_train_timesteps - 1); }

  /** x_t → x_{t-Δ}. */
  step(modelOutput: Tensor, t: number, x: Tensor, opts: DDIMStepOptions = {}): DDIMStepResult {
    return tidy(() => this.stepInner(modelOutput, t, x, opts));
  }

  private stepInner(modelOutput: Tensor, t: number, x: Tensor, opts: DDIMStepOptions): DDIMStepResult {
    const eta = opts.eta ?? 0;
    const prevT = this.previousTimestep(t);
    const at = this.alphaProd(t);
    const aPrev = this.alphaProd(prevT);
    let { x0, eps } = splitPrediction(this.config, modelOutput, x, at);
    if (this.config.clip_sample) {
      const r = this.config.clip_sample_range;
      x0 = clamp(x0, -r, r);
    }
    if (opts.epsForDirection) eps = opts.epsForDirection;
    const variance = ((1 - aPrev) / (1 - at)) * (1 - at / aPrev);
    const std = eta * Math.sqrt(Math.max(variance, 0));
    const dir = mul(eps, Math.sqrt(Math.max(1 - aPrev - std * std, 0)));
    let prev = add(mul(x0, Math.sqrt(aPrev)), dir);
    if (eta > 0) {
      if (!opts.noise) throw new Error('cflens: DDIMScheduler.step: eta > 0 needs opts.noise (a seeded randn of the sample shape)');
      prev = add(prev, mul(opts.noise, std));
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }

  /** Inversion step x_t → x_{t_next} with ε predicted at t (no guidance), as the DDIM inversion loop does. */
  invertStep(eps: Tensor, t: number, tNext: number, x: Tensor): Tensor {
    return tidy(() => this.invertInner(eps, t, tNext, x));
  }

  private invertInner(eps: Tensor, t: number, tNext: number, x: Tensor): Tensor {
    const at = this.alphaProd(t);
    const an = this.alphaProd(tNext);
    const x0 = mul(sub(x, mul(eps, Math.sqrt(1 - at))), 1 / Math.sqrt(at));
    return add(mul(x0, Math.sqrt(an)), mul(eps, Math.sqrt(1 - an)));
  }

  /** q(x_t | x_0): sqrt(ᾱ_t)·x0 + sqrt(1-ᾱ_t)·noise, for a single timestep. */
  addNoise(x0: Tensor, noise: Tensor, t: number): Tensor {
    const a = this.alphasCumprod[t];
    return tidy(() => add(mul(x0, Math.sqrt(a)), mul(noise, Math.sqrt(1 - a))));
  }
}
