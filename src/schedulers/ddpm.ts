import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { add, div, exp, mul, sqrt, sub } from '../ops/elementwise.js';
import { narrow } from '../ops/shape.js';
import { resolveDDPMConfig, type DDPMConfig, type SchedulerConfigJson } from './config.js';
import { nextInList } from './custom-timesteps.js';
import { expf, f, logf, sqrtf } from './f32.js';
import { ScheduledBase } from './scheduled.js';
import { ownHandle, predictX0, processX0 } from './prediction.js';
import type { Scheduler, StepOptions, StepResult, TimestepsRequest } from './scheduler.js';

/** The scalar quantities of one DDPM step (float32, as torch computes them). */
interface DDPMCoefficients {
  alphaProd: number;
  /** Coefficients of x0 and x_t in the posterior mean. */
  x0Coef: number;
  sampleCoef: number;
  /** diffusers' _get_variance before the variance type: β̃ clamped at 1e-20, and β_t. */
  posteriorVariance: number;
  beta: number;
}

/**
 * diffusers' DDPMScheduler: the ancestral step of Ho et al. 2020 with its variance types. The noise
 * comes from the caller (opts.noise, standard normal, needed at t > 0). Learned variance types take
 * a model output with twice the sample's channels (ε then the variance prediction, as diffusers
 * splits it). Differentiable like the DDIM step.
 */
export class DDPMScheduler extends ScheduledBase<DDPMConfig> implements Scheduler {
  constructor(config: SchedulerConfigJson = {}) {
    super('DDPMScheduler', resolveDDPMConfig(config));
    this.timesteps = Array.from({ length: this.config.num_train_timesteps }, (_, i) => this.config.num_train_timesteps - 1 - i);
  }

  static fromConfig(json: SchedulerConfigJson): DDPMScheduler { return new DDPMScheduler(json); }

  /** set_timesteps(num_inference_steps) or set_timesteps(timesteps=[...]) (strictly descending, first below T). */
  setTimesteps(request: TimestepsRequest): number[] {
    return this.timestepsFrom(request, { customSteps: () => 0 });
  }

  reset(): void {}

  /** The timestep a step from t lands on: the next one of the schedule (t − 1 before setTimesteps), −1 after the last. */
  previousTimestep(t: number): number {
    return this.custom || this.numInferenceSteps ? nextInList(this.className, this.timesteps, t) : t - 1;
  }

  private coefficients(t: number): DDPMCoefficients {
    const at = this.schedule.alphaAt(t, this.numInferenceSteps);
    const prevT = this.previousTimestep(t);
    const ap = prevT >= 0 ? this.schedule.alphaAt(prevT, this.numInferenceSteps) : 1;
    const bt = f(1 - at);
    const bp = f(1 - ap);
    const alpha = f(at / ap);
    const beta = f(1 - alpha);
    const c: DDPMCoefficients = {
      alphaProd: at,
      x0Coef: f(f(sqrtf(ap) * beta) / bt),
      sampleCoef: f(f(sqrtf(alpha) * bp) / bt),
      posteriorVariance: Math.max(f(f(bp / bt) * beta), f(1e-20)),
      beta,
    };
    if (!Number.isFinite(c.x0Coef) || !Number.isFinite(c.sampleCoef)) {
      throw new Error(`cflens: ${this.className}.step: at timestep ${t}, 1 − ᾱ_t = ${bt} makes the posterior mean divide by zero (NaN in diffusers)`);
    }
    return c;
  }

  /** The standard deviation multiplying the noise, for the fixed variance types. */
  private fixedStd(c: DDPMCoefficients, t: number): number {
    switch (this.config.variance_type) {
      case 'fixed_small':
        return sqrtf(c.posteriorVariance);
      case 'fixed_small_log':
        return expf(f(0.5 * logf(c.posteriorVariance)));
      case 'fixed_large':
        return sqrtf(c.beta);
      case 'fixed_large_log': {
        const logBeta = logf(c.beta);
        if (logBeta < 0) {
          throw new Error(
            `cflens: ${this.className}.step: variance_type 'fixed_large_log' at timestep ${t}: diffusers takes the square root of log β_t = ${logBeta} < 0, ` +
            "which is NaN; use 'fixed_large' (or 'fixed_small_log', the log-space variant that works)",
          );
        }
        return sqrtf(logBeta);
      }
      default:
        throw new Error(`cflens: ${this.className}: variance_type '${this.config.variance_type}' is not a fixed variance`);
    }
  }

  /** x_t → x_{prev}: diffusers' DDPMScheduler.step with the noise it would draw passed as opts.noise. */
  step(modelOutput: Tensor, t: number, sample: Tensor, opts: StepOptions = {}): StepResult {
    if (opts.eta !== undefined && opts.eta !== 1) {
      throw new Error(
        `cflens: ${this.className}.step: eta ${opts.eta} does not apply: the DDPM step always adds its variance_type noise (like eta 1); ` +
        'omit eta or use DDIMScheduler',
      );
    }
    const learned = this.config.variance_type === 'learned' || this.config.variance_type === 'learned_range';
    const channels = sample.shape[1];
    const split = learned && modelOutput.ndim === sample.ndim && modelOutput.shape[1] === 2 * channels;
    const outChannels = split ? channels : modelOutput.shape[1];
    if (modelOutput.ndim !== sample.ndim || outChannels !== channels || modelOutput.shape.some((d, i) => i !== 1 && d !== sample.shape[i])) {
      throw new Error(
        `cflens: ${this.className}.step: model output of shape [${modelOutput.shape.join(', ')}] does not fit the sample [${sample.shape.join(', ')}]` +
        (learned ? ` (variance_type '${this.config.variance_type}' takes ${channels} or ${2 * channels} channels)` : ''),
      );
    }
    const c = this.coefficients(t);
    const noisy = t > 0;
    if (noisy && learned && !split) {
      throw new Error(
        `cflens: ${this.className}.step: variance_type '${this.config.variance_type}' needs the variance prediction: ` +
        `a model output with ${2 * channels} channels (ε then v), got ${channels}`,
      );
    }
    const std = noisy && !learned ? this.fixedStd(c, t) : 0;
    if (noisy && !opts.noise) {
      throw new Error(`cflens: ${this.className}.step: the step from timestep ${t} adds noise: pass opts.noise (a seeded randn of the sample shape)`);
    }
    const where = { who: this.className, t };
    return tidy(() => {
      const eps = split ? narrow(modelOutput, 1, 0, channels) : modelOutput;
      const x0 = processX0(this.config, predictX0(this.config.prediction_type, eps, sample, c.alphaProd, where));
      let prev = add(mul(x0, c.x0Coef), mul(sample, c.sampleCoef));
      if (noisy) {
        const noise = opts.noise!;
        if (!learned) prev = add(prev, mul(noise, std));
        else {
          const predicted = narrow(modelOutput, 1, channels, channels);
          prev = add(prev, mul(this.learnedStd(c, predicted), noise));
        }
      }
      return { prevSample: prev, predOriginalSample: ownHandle(x0, modelOutput) };
    });
  }

  /** The standard deviation from the model's variance prediction (a tensor). */
  private learnedStd(c: DDPMCoefficients, predicted: Tensor): Tensor {
    if (this.config.variance_type === 'learned') return sqrt(predicted);
    // learned_range: interpolate log β̃ and log β with frac = (v + 1) / 2.
    const minLog = logf(c.posteriorVariance);
    const maxLog = logf(c.beta);
    const frac = div(add(predicted, 1), 2);
    const logVariance = add(mul(frac, maxLog), mul(sub(1, frac), minLog));
    return exp(mul(logVariance, 0.5));
  }

  addNoise(x0: Tensor, noise: Tensor, t: number): Tensor { return this.schedule.addNoise(x0, noise, t); }
}
