import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { add, mul } from '../ops/elementwise.js';
import { resolveDDIMConfig, type DDIMConfig, type SchedulerConfigJson } from './config.js';
import { f, sqrtf } from './f32.js';
import { ScheduledBase } from './scheduled.js';
import { epsFromX0, ownHandle, predictEps, predictX0, processX0 } from './prediction.js';
import type { Scheduler, StepOptions, StepResult, TimestepsRequest } from './scheduler.js';
import { nextInList } from './custom-timesteps.js';

export interface DDIMStepOptions extends StepOptions {
  /** diffusers' use_clipped_model_output: ε recomputed from the clipped/thresholded x0. */
  useClippedModelOutput?: boolean;
  /** ε for the direction term (Asyrp's asymmetric reverse process: x0 from the edited ε, direction from the original). */
  epsForDirection?: Tensor;
}

/**
 * DDIM (Song et al. 2021) as diffusers' DDIMScheduler computes it, configured by its
 * scheduler_config.json keys (see docs/schedulers.md). Every step is made of differentiable tensor
 * ops, so gradients flow through a whole sampling loop.
 */
export class DDIMScheduler extends ScheduledBase<DDIMConfig> implements Scheduler {
  /** ᾱ "before" timestep 0: 1 with set_alpha_to_one, else ᾱ_0. */
  readonly finalAlphaCumprod: number;

  constructor(config: SchedulerConfigJson = {}) {
    super('DDIMScheduler', resolveDDIMConfig(config));
    this.finalAlphaCumprod = this.config.set_alpha_to_one ? 1 : this.alphasCumprod[0];
  }

  /** From a diffusers scheduler_config.json object. */
  static fromConfig(json: SchedulerConfigJson): DDIMScheduler { return new DDIMScheduler(json); }

  /**
   * diffusers' set_timesteps(steps). `{ timesteps }` (a cflens extension: diffusers' DDIM has no
   * custom timesteps) takes a strictly descending list within the training range; each step then
   * goes to the next listed timestep, the last one to ᾱ = finalAlphaCumprod.
   */
  setTimesteps(request: TimestepsRequest): number[] {
    return this.timestepsFrom(request, { inRange: true, customSteps: (list) => list.length });
  }

  /** DDIM keeps no state between steps. */
  reset(): void {}

  private requireTimesteps(): number {
    if (!this.numInferenceSteps) throw new Error(`cflens: ${this.className}: call setTimesteps(n) before stepping`);
    return this.numInferenceSteps;
  }

  private stepRatio(): number {
    return Math.floor(this.config.num_train_timesteps / this.requireTimesteps());
  }

  /** ᾱ_t; negative t means "before timestep 0" (finalAlphaCumprod). */
  alphaProd(t: number): number {
    return t < 0 ? this.finalAlphaCumprod : this.schedule.alphaAt(t, this.numInferenceSteps);
  }

  /** The timestep a step from t lands on: t − ⌊T/n⌋ as diffusers (or the next custom timestep). */
  previousTimestep(t: number): number {
    if (this.custom) return nextInList(this.className, this.timesteps, t);
    return t - this.stepRatio();
  }

  /** Next (noisier) timestep for inversion. */
  nextTimestep(t: number): number { return Math.min(t + this.stepRatio(), this.config.num_train_timesteps - 1); }

  /** x_t → x_{t−Δ}: diffusers' DDIMScheduler.step with eta, variance_noise (opts.noise) and use_clipped_model_output. */
  step(modelOutput: Tensor, t: number, sample: Tensor, opts: DDIMStepOptions = {}): StepResult {
    const eta = opts.eta ?? 0;
    if (!(eta >= 0 && Number.isFinite(eta))) throw new Error(`cflens: ${this.className}.step: eta must be a finite number ≥ 0, got ${eta}`);
    const at = this.schedule.alphaAt(t, this.requireTimesteps());
    const ap = this.alphaProd(this.previousTimestep(t));
    const bt = f(1 - at);
    const bp = f(1 - ap);
    const variance = f(f(bp / bt) * f(1 - f(at / ap)));
    const std = f(f(eta) * sqrtf(variance));
    const directionSq = f(bp - f(std * std));
    if (!Number.isFinite(std) || !(directionSq >= 0)) {
      throw new Error(
        `cflens: ${this.className}.step: at timestep ${t} (ᾱ_t = ${at}, ᾱ_prev = ${ap}) eta ${eta} gives σ = ${std} and 1 − ᾱ_prev − σ² = ${directionSq}, ` +
        `whose square root is NaN in diffusers${at === 0 ? ' (ᾱ_t = 0: the last timestep of a zero-terminal-SNR schedule)' : ''}; ` +
        'use eta < 1 or avoid this timestep',
      );
    }
    if (eta > 0 && !opts.noise) throw new Error(`cflens: ${this.className}.step: eta > 0 needs opts.noise (a seeded randn of the sample shape)`);
    const where = { who: this.className, t };
    return tidy(() => {
      const x0 = processX0(this.config, predictX0(this.config.prediction_type, modelOutput, sample, at, where));
      let eps = opts.useClippedModelOutput ? epsFromX0(sample, x0, at, where) : predictEps(this.config.prediction_type, modelOutput, sample, at, where);
      if (opts.epsForDirection) eps = opts.epsForDirection;
      let prev = add(mul(x0, sqrtf(ap)), mul(eps, sqrtf(directionSq)));
      if (eta > 0) prev = add(prev, mul(opts.noise!, std));
      return { prevSample: prev, predOriginalSample: ownHandle(x0, modelOutput) };
    });
  }

  /**
   * Inversion step x_t → x_{tNext} with the model output predicted at t (no guidance), as DDIM
   * inversion loops do: x0 and ε from ᾱ_t (x0 thresholded or clipped as in step), then
   * √ᾱ_next·x0 + √(1−ᾱ_next)·ε, which is diffusers' DDIMInverseScheduler update.
   */
  invertStep(modelOutput: Tensor, t: number, tNext: number, x: Tensor): Tensor {
    const at = this.alphaProd(t);
    const an = this.alphaProd(tNext);
    const where = { who: `${this.className}.invertStep`, t };
    return tidy(() => {
      const x0 = processX0(this.config, predictX0(this.config.prediction_type, modelOutput, x, at, where));
      const eps = predictEps(this.config.prediction_type, modelOutput, x, at, where);
      return add(mul(x0, sqrtf(an)), mul(eps, sqrtf(f(1 - an))));
    });
  }

  /** q(x_t | x_0): √ᾱ_t·x0 + √(1−ᾱ_t)·noise, for a single timestep. */
  addNoise(x0: Tensor, noise: Tensor, t: number): Tensor { return this.schedule.addNoise(x0, noise, t); }
}
