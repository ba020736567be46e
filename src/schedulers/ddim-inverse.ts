import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { add, mul } from '../ops/elementwise.js';
import { resolveDDIMInverseConfig, type DDIMInverseConfig, type SchedulerConfigJson } from './config.js';
import { f, sqrtf } from './f32.js';
import { ScheduledBase } from './scheduled.js';
import { ownHandle, predictEps, predictX0, processX0 } from './prediction.js';
import type { Scheduler, StepOptions, StepResult, TimestepsRequest } from './scheduler.js';
import { inverseTimesteps } from './timesteps.js';

/**
 * diffusers' DDIMInverseScheduler: deterministic DDIM run backwards, x_0 → x_T. Its timesteps
 * ascend; the step at timestep t takes the sample from ᾱ of t − ⌊T/n⌋ (initialAlphaCumprod below
 * 0) to ᾱ_t, with the model output evaluated at t. x0 is clipped under clip_sample; there is no
 * thresholding (diffusers has none here).
 */
export class DDIMInverseScheduler extends ScheduledBase<DDIMInverseConfig> implements Scheduler {
  /** ᾱ the first step starts from: 1 with set_alpha_to_one, else ᾱ_0. */
  readonly initialAlphaCumprod: number;

  constructor(config: SchedulerConfigJson = {}) {
    super('DDIMInverseScheduler', resolveDDIMInverseConfig(config));
    this.initialAlphaCumprod = this.config.set_alpha_to_one ? 1 : this.alphasCumprod[0];
  }

  static fromConfig(json: SchedulerConfigJson): DDIMInverseScheduler { return new DDIMInverseScheduler(json); }

  setTimesteps(request: TimestepsRequest): number[] {
    if (typeof request !== 'number') {
      throw new Error(`cflens: ${this.className}: custom timesteps are not supported (diffusers' DDIMInverseScheduler has none); pass a step count`);
    }
    this.timesteps = inverseTimesteps(this.config, request);
    this.numInferenceSteps = request;
    return this.timesteps;
  }

  reset(): void {}

  /** x at the noise level before t → x at t (noisier). Deterministic: eta and noise are refused. */
  step(modelOutput: Tensor, t: number, sample: Tensor, opts: StepOptions = {}): StepResult {
    if ((opts.eta ?? 0) !== 0 || opts.noise) throw new Error(`cflens: ${this.className}.step is deterministic: it takes no eta or noise`);
    const n = this.numInferenceSteps;
    if (!n) throw new Error(`cflens: ${this.className}: call setTimesteps(n) before stepping`);
    const target = this.schedule.alphaAt(t, n);
    const from = Math.min(t - Math.floor(this.config.num_train_timesteps / n), this.config.num_train_timesteps - 1);
    const current = from >= 0 ? this.schedule.alphaAt(from, n) : this.initialAlphaCumprod;
    const where = { who: this.className, t };
    return tidy(() => {
      const x0 = processX0(this.config, predictX0(this.config.prediction_type, modelOutput, sample, current, where));
      const eps = predictEps(this.config.prediction_type, modelOutput, sample, current, where);
      const prevSample = add(mul(x0, sqrtf(target)), mul(eps, sqrtf(f(1 - target))));
      return { prevSample, predOriginalSample: ownHandle(x0, modelOutput) };
    });
  }

  addNoise(x0: Tensor, noise: Tensor, t: number): Tensor { return this.schedule.addNoise(x0, noise, t); }
}
