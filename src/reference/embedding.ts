import { type NDArray, nd } from './core.ts';

/** F.embedding: rows of `weight` [num, dim] picked by `indices`; output shape [...indices.shape, dim]. */
export function embedding(weight: NDArray, indices: readonly number[] | NDArray): NDArray {
  if (weight.shape.length !== 2) throw new Error('embedding: weight must be 2-D');
  const [num, dim] = weight.shape;
  const ids = Array.isArray(indices) ? (indices as readonly number[]) : Array.from((indices as NDArray).data);
  const idShape = Array.isArray(indices) ? [ids.length] : (indices as NDArray).shape;
  const out = nd([...idShape, dim]);
  ids.forEach((id, r) => {
    if (!Number.isInteger(id) || id < 0 || id >= num) throw new Error(`embedding: index ${id} out of range [0, ${num})`);
    out.data.set(weight.data.subarray(id * dim, (id + 1) * dim), r * dim);
  });
  return out;
}

export interface TimestepEmbeddingOptions {
  flipSinToCos?: boolean;
  downscaleFreqShift?: number;
  scale?: number;
  maxPeriod?: number;
}

/**
 * diffusers get_timestep_embedding → [timesteps.length, dim]:
 * freq_i = exp(-ln(maxPeriod) · i / (dim/2 − shift)), [sin(t·scale·freq), cos(...)] (cos first when
 * flipped), zero column appended for odd dim.
 *
 * Timesteps reach ~1000, where float32 rounding of the angle moves sin/cos by ~1e-4; the
 * float32 rounding of every intermediate of the PyTorch graph is therefore reproduced
 * (Math.fround) and only sin/cos are taken in float64.
 */
export function timestepEmbedding(timesteps: readonly number[], dim: number, opts: TimestepEmbeddingOptions = {}): NDArray {
  const { flipSinToCos = false, downscaleFreqShift = 1, scale = 1, maxPeriod = 10000 } = opts;
  const f32 = Math.fround;
  const half = Math.floor(dim / 2);
  const logPeriod = f32(-Math.log(maxPeriod));
  const freqs = Array.from({ length: half }, (_, i) => f32(Math.exp(f32(f32(logPeriod * i) / (half - downscaleFreqShift)))));
  const out = nd([timesteps.length, dim]);
  timesteps.forEach((t, r) => {
    for (let i = 0; i < half; i++) {
      const angle = f32(scale * f32(f32(t) * freqs[i]));
      const [first, second] = flipSinToCos ? [Math.cos(angle), Math.sin(angle)] : [Math.sin(angle), Math.cos(angle)];
      out.data[r * dim + i] = first;
      out.data[r * dim + half + i] = second;
    }
  });
  return out;
}
