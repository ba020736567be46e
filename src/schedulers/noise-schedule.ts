// What DDIM, its inverse and DDPM share: betas and ᾱ from the config, lookups of ᾱ_t that refuse
// timesteps outside the training range (diffusers would read alphas_cumprod[-1] or raise IndexError),
// and the forward process q(x_t | x_0).

import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { add, mul } from '../ops/elementwise.js';
import { alphasCumprod, makeBetas } from './betas.js';
import type { NoiseScheduleConfig } from './config.js';
import { f, sqrtf } from './f32.js';

export class NoiseSchedule {
  readonly betas: Float32Array;
  readonly alphasCumprod: Float32Array;

  constructor(readonly who: string, readonly c: NoiseScheduleConfig) {
    this.betas = makeBetas(c);
    this.alphasCumprod = alphasCumprod(this.betas);
  }

  /** Why timestep t cannot index ᾱ, naming the setting that produced it. */
  private outOfRange(t: number, steps: number): string {
    const n = this.c.num_train_timesteps;
    const head = `cflens: ${this.who}: timestep ${t} is outside alphas_cumprod (num_train_timesteps ${n}: 0..${n - 1})`;
    if (t < 0 && this.c.timestep_spacing === 'trailing' && steps > 0) {
      return `${head}: timestep_spacing 'trailing' with ${steps} steps gives ${steps + 1} timesteps ending in -1, as diffusers does ` +
        `(diffusers then silently reads alphas_cumprod[-1], the last timestep's ᾱ); choose another step count or spacing`;
    }
    if (t >= n && this.c.timestep_spacing === 'leading' && this.c.steps_offset > 0 && steps > 0) {
      return `${head}: steps_offset ${this.c.steps_offset} with ${steps} steps (leading spacing) starts at ${t} ` +
        `(diffusers raises IndexError here); use fewer steps or steps_offset 0`;
    }
    return `${head}; step only timesteps in that range`;
  }

  /** ᾱ_t for a timestep a loop steps from; `steps` (the inference step count) only explains refusals. */
  alphaAt(t: number, steps = 0): number {
    if (!Number.isInteger(t)) throw new Error(`cflens: ${this.who}: timestep must be an integer, got ${t}`);
    if (t < 0 || t >= this.alphasCumprod.length) throw new Error(this.outOfRange(t, steps));
    return this.alphasCumprod[t];
  }

  /** q(x_t | x_0) = √ᾱ_t·x0 + √(1−ᾱ_t)·noise, as diffusers' add_noise for one timestep. */
  addNoise(x0: Tensor, noise: Tensor, t: number): Tensor {
    const a = this.alphaAt(t);
    return tidy(() => add(mul(x0, sqrtf(a)), mul(noise, sqrtf(f(1 - a)))));
  }
}
