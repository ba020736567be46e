import { inBackward } from '../autograd/backward-state.js';
import { keep, tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { add, div, mul, sub } from '../ops/elementwise.js';
import { narrow, reshape } from '../ops/shape.js';
import { alphasCumprod, makeBetas } from './betas.js';
import { resolveDPMSolverConfig, type DPMSolverConfig, type SchedulerConfigJson } from './config.js';
import { expf, f, logf, sqrtf } from './f32.js';
import { ownHandle, processX0 } from './prediction.js';
import type { Scheduler, StepOptions, StepResult, TimestepsRequest } from './scheduler.js';
import { dpmSolverTimesteps } from './timesteps.js';

/** α_t, σ_t and λ_t = log α_t − log σ_t of a noise level σ (float32, as diffusers). */
interface Level { alpha: number; sigma: number; lambda: number }

function level(sigma: number): Level {
  const alpha = f(1 / sqrtf(f(f(sigma * sigma) + 1)));
  const s = f(sigma * alpha);
  return { alpha, sigma: s, lambda: f(logf(alpha) - logf(s)) };
}

/**
 * diffusers' DPMSolverMultistepScheduler (Lu et al. 2022): DPM-Solver++ ('dpmsolver++', the usual
 * ~20-step sampler for Stable Diffusion) or DPM-Solver ('dpmsolver'), multistep of order 1–3, with
 * midpoint or heun second-order terms. It keeps the converted model outputs of the previous steps;
 * they stay in the autograd graph, so gradients flow through the history of a sampling loop.
 * A step cannot be recomputed (gradient checkpointing of single steps): the history has moved on.
 */
export class DPMSolverMultistepScheduler implements Scheduler {
  readonly className = 'DPMSolverMultistepScheduler';
  readonly config: DPMSolverConfig;
  readonly betas: Float32Array;
  readonly alphasCumprod: Float32Array;
  timesteps: number[] = [];
  /** σ of each timestep, then the final σ (0, or σ at t = 0 with final_sigmas_type 'sigma_min'). */
  sigmas = new Float32Array(0);
  numInferenceSteps = 0;
  private history: (Tensor | null)[];
  private lowerOrderNums = 0;
  private stepIndex: number | null = null;
  private beginIndex: number | null = null;
  /** σ_t = √((1 − ᾱ_t)/ᾱ_t) for every training timestep. */
  private readonly trainSigmas: Float32Array;

  constructor(config: SchedulerConfigJson = {}) {
    this.config = resolveDPMSolverConfig(config);
    this.betas = makeBetas(this.config);
    this.alphasCumprod = alphasCumprod(this.betas);
    if (this.config.rescale_betas_zero_snr) this.alphasCumprod[this.alphasCumprod.length - 1] = 2 ** -24; // as diffusers: keeps σ finite
    this.trainSigmas = this.alphasCumprod.map((a) => sqrtf(f(f(1 - a) / a)));
    this.history = new Array<Tensor | null>(this.config.solver_order).fill(null);
  }

  static fromConfig(json: SchedulerConfigJson): DPMSolverMultistepScheduler { return new DPMSolverMultistepScheduler(json); }

  /** The training length less the tail whose λ_t is below lambda_min_clipped (diffusers' last_timestep). */
  private lastTimestep(): number {
    const n = this.config.num_train_timesteps;
    const min = this.config.lambda_min_clipped;
    if (min === -Infinity) return n;
    // searchsorted over λ flipped to ascending: how many of the noisiest timesteps have λ_t < min.
    let clipped = 0;
    for (let t = n - 1; t >= 0; t--) {
      const a = this.alphasCumprod[t];
      const lambda = f(logf(sqrtf(a)) - logf(sqrtf(f(1 - a))));
      if (lambda >= min) break;
      clipped++;
    }
    return n - clipped;
  }

  /** set_timesteps(steps) or set_timesteps(timesteps=[...]) (used as given, as diffusers does); also resets the history. */
  setTimesteps(request: TimestepsRequest): number[] {
    if (typeof request === 'number') this.timesteps = dpmSolverTimesteps(this.config, request, this.lastTimestep());
    else {
      const list = request.timesteps;
      if (!Array.isArray(list) || list.length === 0 || list.some((t) => !Number.isInteger(t))) {
        throw new Error(`cflens: ${this.className}: custom timesteps must be a non-empty list of integers`);
      }
      this.timesteps = [...list];
    }
    const last = this.config.final_sigmas_type === 'sigma_min' ? this.trainSigmas[0] : 0;
    this.sigmas = Float32Array.from([...this.timesteps.map((t) => this.sigmaAt(t)), last]);
    this.numInferenceSteps = this.timesteps.length;
    this.reset();
    return this.timesteps;
  }

  /** np.interp over the training σ: exact at integer timesteps, clamped to the ends outside 0..T−1. */
  private sigmaAt(t: number): number {
    const s = this.trainSigmas;
    return s[Math.min(Math.max(t, 0), s.length - 1)];
  }

  /** diffusers' set_begin_index: the first step's index when the loop starts mid-schedule (img2img). */
  setBeginIndex(index = 0): void { this.beginIndex = index; }

  /** Drops the previous model outputs and the step counter; setTimesteps calls it. */
  reset(): void {
    for (const t of this.history) t?.dispose();
    this.history = new Array<Tensor | null>(this.config.solver_order).fill(null);
    this.lowerOrderNums = 0;
    this.stepIndex = null;
    this.beginIndex = null;
  }

  /** diffusers' index_for_timestep: the second match when t appears twice (a loop started mid-schedule), the last index when absent. */
  private indexFor(t: number): number {
    const matches = this.timesteps.flatMap((s, i) => (s === t ? [i] : []));
    if (matches.length === 0) return this.timesteps.length - 1;
    return matches.length > 1 ? matches[1] : matches[0];
  }

  /** One multistep update from `sample` at timestep t; predOriginalSample is the step's x0 prediction. */
  step(modelOutput: Tensor, t: number, sample: Tensor, opts: StepOptions = {}): StepResult {
    if ((opts.eta ?? 0) !== 0 || opts.noise) {
      throw new Error(
        `cflens: ${this.className}.step: algorithm_type '${this.config.algorithm_type}' is deterministic: it takes no eta or noise ` +
        '(the stochastic sde-dpmsolver variants are not implemented)',
      );
    }
    if (inBackward()) {
      throw new Error(
        `cflens: ${this.className}.step: a step is being recomputed during backward (a checkpointed sampling step); ` +
        'a multistep scheduler keeps previous outputs and cannot redo one step — sample with checkpointSteps: false',
      );
    }
    if (!this.numInferenceSteps) throw new Error(`cflens: ${this.className}: call setTimesteps(n) before stepping`);
    this.stepIndex ??= this.beginIndex ?? this.indexFor(t);
    const i = this.stepIndex;
    const count = this.timesteps.length;
    if (i >= count) throw new Error(`cflens: ${this.className}.step: all ${count} steps are done; call setTimesteps again to sample anew`);
    const c = this.config;
    const lowerOrderFinal = i === count - 1 && (c.euler_at_final || (c.lower_order_final && count < 15) || c.final_sigmas_type === 'zero');
    const lowerOrderSecond = i === count - 2 && c.lower_order_final && count < 15;
    const order = c.solver_order === 1 || this.lowerOrderNums < 1 || lowerOrderFinal ? 1
      : c.solver_order === 2 || this.lowerOrderNums < 2 || lowerOrderSecond ? 2 : 3;
    const levels = [i + 1, i, i - 1, i - 2].slice(0, order + 1).map((k) => level(this.sigmas[k]));

    const result = tidy(() => {
      const { converted, x0 } = this.convert(modelOutput, sample, levels[1], t);
      const stored = keep(reshape(converted, converted.shape)); // the history's own handle, outside every tidy scope
      this.history[0]?.dispose();
      this.history = [...this.history.slice(1), stored];
      const prevSample = this.update(order, levels, sample, t);
      return { prevSample, predOriginalSample: ownHandle(x0, modelOutput) };
    });
    if (this.lowerOrderNums < c.solver_order) this.lowerOrderNums++;
    this.stepIndex = i + 1;
    return result;
  }

  /**
   * diffusers' convert_model_output: the x0 prediction (dpmsolver++) or the ε prediction (dpmsolver)
   * the solver works with, thresholded when configured; also the step's x0 for the caller.
   */
  private convert(modelOutput: Tensor, sample: Tensor, s: Level, t: number): { converted: Tensor; x0: Tensor } {
    const c = this.config;
    const out = this.withoutVariance(modelOutput, sample);
    const x0From = (eps: Tensor) => div(sub(sample, mul(eps, s.sigma)), s.alpha);
    const epsFrom = (x0: Tensor) => div(sub(sample, mul(x0, s.alpha)), s.sigma);
    if (c.algorithm_type === 'dpmsolver++') {
      let x0: Tensor;
      if (c.prediction_type === 'epsilon') x0 = x0From(out);
      else if (c.prediction_type === 'sample') x0 = out;
      else x0 = sub(mul(sample, s.alpha), mul(out, s.sigma));
      if (c.thresholding) x0 = processX0(c, x0);
      return { converted: x0, x0 };
    }
    let eps: Tensor;
    if (c.prediction_type === 'epsilon') eps = out;
    else if (c.prediction_type === 'sample') {
      if (s.sigma === 0) throw new Error(`cflens: ${this.className}.step: prediction_type 'sample' at timestep ${t} divides by σ_t = 0`);
      eps = epsFrom(out);
    } else eps = add(mul(out, s.alpha), mul(sample, s.sigma));
    if (c.thresholding) {
      const x0 = processX0(c, x0From(eps));
      return { converted: epsFrom(x0), x0 };
    }
    return { converted: eps, x0: c.prediction_type === 'sample' ? out : x0From(eps) };
  }

  /** ε without the learned-variance channels (diffusers keeps the first 3 of 6; here the first C of 2C). */
  private withoutVariance(modelOutput: Tensor, sample: Tensor): Tensor {
    const channels = sample.shape[1];
    if (this.config.variance_type !== null && modelOutput.shape[1] === 2 * channels) return narrow(modelOutput, 1, 0, channels);
    if (modelOutput.shape.some((d, k) => d !== sample.shape[k])) {
      throw new Error(
        `cflens: ${this.className}.step: model output of shape [${modelOutput.shape.join(', ')}] does not fit the sample [${sample.shape.join(', ')}]`,
      );
    }
    return modelOutput;
  }

  /** The first-, second- or third-order multistep update to levels[0] (levels[1..] are the current and previous steps). */
  private update(order: number, levels: Level[], sample: Tensor, t: number): Tensor {
    const plus = this.config.algorithm_type === 'dpmsolver++';
    const heun = this.config.solver_type === 'heun';
    const [to, s0, s1, s2] = levels;
    const h = f(to.lambda - s0.lambda);
    // x_t = a·sample − b·D0 (dpmsolver++: a = σ_t/σ_s0, b = α_t(e^{−h} − 1); dpmsolver: a = α_t/α_s0, b = σ_t(e^{h} − 1)).
    const a = plus ? f(to.sigma / s0.sigma) : f(to.alpha / s0.alpha);
    const em1 = plus ? f(expf(-h) - 1) : f(expf(h) - 1);
    const scale = plus ? to.alpha : to.sigma;
    const b = f(scale * em1);
    const [m0, m1, m2] = [this.history.at(-1)!, this.history.at(-2), this.history.at(-3)];
    const checked = (name: string, ...values: number[]) => {
      if (values.some((v) => !Number.isFinite(v))) {
        throw new Error(
          `cflens: ${this.className}.step: the order-${order} update at timestep ${t} has a non-finite ${name} (${values.join(', ')}): ` +
          'consecutive timesteps with the same noise level (h = 0), as in leading spacing with more steps than the schedule allows; ' +
          'diffusers returns NaN here — use fewer steps or another timestep_spacing',
        );
      }
    };
    checked('coefficient', a, b);
    const base = sub(mul(sample, a), mul(m0, b));
    if (order === 1) return base;
    const r0 = f(f(s0.lambda - s1.lambda) / h);
    if (order === 2) {
      const d1Scale = f(1 / r0);
      // midpoint: − ½·b·D1; heun: dpmsolver++ + α_t((e^{−h} − 1)/h + 1)·D1, dpmsolver − σ_t((e^{h} − 1)/h − 1)·D1.
      const c1 = heun ? f(scale * f(f(em1 / h) + (plus ? 1 : -1))) : f(0.5 * b);
      checked('coefficient', d1Scale, c1);
      const d1 = mul(sub(m0, m1!), d1Scale);
      return heun && plus ? add(base, mul(d1, c1)) : sub(base, mul(d1, c1));
    }
    const r1 = f(f(s1.lambda - s2.lambda) / h);
    const rSum = f(r0 + r1);
    const d10 = mul(sub(m0, m1!), f(1 / r0));
    const d11 = mul(sub(m1!, m2!), f(1 / r1));
    const diff = sub(d10, d11);
    const d1 = add(d10, mul(diff, f(r0 / rSum)));
    const d2 = mul(diff, f(1 / rSum));
    const c1 = f(scale * f(f(em1 / h) + (plus ? 1 : -1)));
    const c2 = f(scale * f(f(f(plus ? f(em1 + h) : f(em1 - h)) / f(h * h)) - 0.5));
    checked('coefficient', f(1 / r0), f(1 / r1), f(r0 / rSum), f(1 / rSum), c1, c2);
    // dpmsolver++: base + c1·D1 − c2·D2; dpmsolver: base − c1·D1 − c2·D2.
    return sub(plus ? add(base, mul(d1, c1)) : sub(base, mul(d1, c1)), mul(d2, c2));
  }

  /** diffusers' add_noise: α_t·x0 + σ_t·noise at the σ of timestep t's step (or the begin index). */
  addNoise(x0: Tensor, noise: Tensor, t: number): Tensor {
    if (!this.numInferenceSteps) throw new Error(`cflens: ${this.className}: call setTimesteps(n) before addNoise`);
    const index = this.beginIndex === null ? this.indexFor(t) : this.stepIndex ?? this.beginIndex;
    const { alpha, sigma } = level(this.sigmas[index]);
    return tidy(() => add(mul(x0, alpha), mul(noise, sigma)));
  }
}
