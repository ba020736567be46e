import { tidy } from '../autograd/scope.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { timestepEmbedding as timestepEmbeddingCpu, type TimestepEmbeddingOptions } from '../reference/embedding.js';
import { fromArray } from './creation.js';
import { indexSelect } from './gather.js';
import { reshape } from './shape.js';

/** Rows of `weight` [num, dim] for integer indices of any shape → [...indices.shape, dim]. */
export function embedding(weight: Tensor, indices: Tensor | readonly number[]): Tensor {
  if (weight.ndim !== 2) throw new Error(`cflens: embedding: weight must be [num, dim], got ${shapeStr(weight.shape)}`);
  return tidy(() => {
    const idx = indices instanceof Tensor ? indices : fromArray(Int32Array.from(indices), [indices.length], { ctx: weight.ctx });
    const flat = reshape(idx, [idx.size]);
    return reshape(indexSelect(weight, 0, flat), [...idx.shape, weight.shape[1]]);
  });
}

/**
 * Sinusoidal timestep features exactly as diffusers' get_timestep_embedding (float32 rounding of each
 * intermediate, as torch). Computed on the CPU: timesteps are plain numbers in every sampler.
 */
export function timestepEmbedding(timesteps: readonly number[], dim: number, opts: TimestepEmbeddingOptions = {}): Tensor {
  const e = timestepEmbeddingCpu(timesteps, dim, opts);
  return fromArray(Float32Array.from(e.data), e.shape);
}
