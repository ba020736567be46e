import type { Tensor } from '../../autograd/tensor.js';
import { timestepEmbedding } from '../../ops/embedding.js';
import { Linear } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { activation } from './activations.js';

/** Sinusoidal timestep features (diffusers Timesteps / get_timestep_embedding). */
export class Timesteps extends Module {
  constructor(readonly numChannels: number, readonly flipSinToCos: boolean, readonly downscaleFreqShift: number) {
    super();
  }
  forward(timesteps: readonly number[]): Tensor {
    return timestepEmbedding(timesteps, this.numChannels, { flipSinToCos: this.flipSinToCos, downscaleFreqShift: this.downscaleFreqShift });
  }
}

/** linear_1 → act → linear_2 (diffusers TimestepEmbedding). */
export class TimestepEmbedding extends Module {
  linear_1: Linear;
  linear_2: Linear;
  constructor(inChannels: number, timeEmbedDim: number, readonly actFn = 'silu', outDim?: number) {
    super();
    this.linear_1 = this.child('linear_1', new Linear(inChannels, timeEmbedDim));
    this.linear_2 = this.child('linear_2', new Linear(timeEmbedDim, outDim ?? timeEmbedDim));
  }
  forward(x: Tensor): Tensor {
    return this.linear_2.forward(activation(this.actFn, this.linear_1.forward(x)));
  }
}

/** One timestep per batch element (a single value is repeated). */
export function batchTimesteps(t: number | readonly number[], batch: number): number[] {
  const list = typeof t === 'number' ? [t] : [...t];
  if (list.length === batch) return list;
  if (list.length === 1) return Array(batch).fill(list[0]);
  throw new Error(`cflens: UNet: ${list.length} timesteps for a batch of ${batch}`);
}
