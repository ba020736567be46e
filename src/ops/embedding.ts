import { Tensor, shapeStr } from '../autograd/tensor.js';
import { fromArray, zeros } from './creation.js';
import { indexSelect } from './gather.js';
import { reshape } from './shape.js';
import { assertFloat, sameCtx } from './util.js';
import { timestepKernel } from './kernels/embedding.js';

export interface TimestepEmbeddingOptions {
  flipSinToCos?: boolean;
  downscaleFreqShift?: number;
  scale?: number;
  maxPeriod?: number;
}

/**
 * torch.nn.functional.embedding: rows of `weight` [num, dim] for integer indices of any shape →
 * [...indices.shape, dim]. Indices: an i32 tensor (or f32 holding integers; out-of-range values are
 * clamped on the GPU, see gather.ts) or CPU integers (checked: 0 <= i < num). The gradient w.r.t.
 * weight scatter-adds (repeated indices accumulate), through indexSelect's vjp.
 */
export function embedding(weight: Tensor, indices: Tensor | readonly number[] | Int32Array): Tensor {
  assertFloat('embedding', weight);
  if (weight.ndim !== 2) throw new Error(`cflens: embedding: weight must be [num, dim], got ${shapeStr(weight.shape)}`);
  const num = weight.shape[0];
  let idx: Tensor;
  let owned = false;
  if (indices instanceof Tensor) {
    sameCtx('embedding', weight, indices);
    idx = indices;
  } else {
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      if (!Number.isInteger(i) || i < 0 || i >= num) {
        throw new Error(`cflens: embedding: index ${i} (position ${k}) is out of range for ${num} embeddings (weight ${shapeStr(weight.shape)})`);
      }
    }
    idx = fromArray(Int32Array.from(indices), [indices.length], { ctx: weight.ctx });
    owned = true;
  }
  const flat = idx.ndim === 1 ? idx : reshape(idx, [idx.size]);
  const rows = indexSelect(weight, 0, flat);
  const out = reshape(rows, [...idx.shape, weight.shape[1]]);
  rows.dispose();
  if (flat !== idx) flat.dispose();
  if (owned) idx.dispose();
  return out;
}

/** The frequencies of diffusers' get_timestep_embedding, with float32 rounding of each step as torch. */
function timestepFreqs(half: number, downscaleFreqShift: number, maxPeriod: number): Float32Array {
  const f32 = Math.fround;
  const logPeriod = f32(-Math.log(maxPeriod));
  return Float32Array.from({ length: half }, (_, i) => f32(Math.exp(f32(f32(logPeriod * i) / (half - downscaleFreqShift)))));
}

/**
 * The features of CPU timesteps on the CPU: the angle rounded to float32 at every step as torch computes
 * it (timesteps reach ~1000, where that rounding moves sin/cos by ~1e-4), sin and cos in float64.
 */
function timestepFeaturesHost(timesteps: readonly number[], dim: number, opts: TimestepEmbeddingOptions): Float32Array {
  const { flipSinToCos = false, downscaleFreqShift = 1, scale = 1, maxPeriod = 10000 } = opts;
  const f32 = Math.fround;
  const half = Math.floor(dim / 2);
  const freqs = timestepFreqs(half, downscaleFreqShift, maxPeriod);
  const out = new Float32Array(timesteps.length * dim);
  timesteps.forEach((t, r) => {
    for (let i = 0; i < half; i++) {
      const angle = f32(scale * f32(f32(t) * freqs[i]));
      out[r * dim + i] = flipSinToCos ? Math.cos(angle) : Math.sin(angle);
      out[r * dim + half + i] = flipSinToCos ? Math.sin(angle) : Math.cos(angle);
    }
  });
  return out;
}

/**
 * Sinusoidal timestep features exactly as diffusers' get_timestep_embedding → [n, dim]:
 * freq_i = exp(−ln(maxPeriod)·i / (dim/2 − downscaleFreqShift)), [sin(scale·t·freq) | cos(...)] (cos
 * first with flipSinToCos), a zero column appended for odd dim. Defaults as diffusers (no flip,
 * shift 1, scale 1, max period 10000). Timesteps: CPU numbers (computed on the CPU in float64 from the
 * float32 angle, then uploaded) or a 1-D tensor (i32 or f32; computed on the GPU). Not differentiable.
 */
export function timestepEmbedding(timesteps: Tensor | readonly number[], dim: number, opts: TimestepEmbeddingOptions = {}): Tensor {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`cflens: timestepEmbedding: dim must be a positive integer, got ${dim}`);
  if (!(timesteps instanceof Tensor)) return fromArray(timestepFeaturesHost(timesteps, dim, opts), [timesteps.length, dim]);
  const t = timesteps;
  t.assertAlive('timestepEmbedding');
  if (t.ndim !== 1 || t.dtype === 'f16') {
    throw new Error(`cflens: timestepEmbedding: timesteps must be a 1-D i32 or f32 tensor, got ${t.dtype} of shape ${shapeStr(t.shape)}`);
  }
  const { flipSinToCos = false, downscaleFreqShift = 1, scale = 1, maxPeriod = 10000 } = opts;
  const half = Math.floor(dim / 2);
  const n = t.shape[0];
  if (half === 0 || n === 0) return zeros([n, dim], { ctx: t.ctx });
  const freqs = fromArray(timestepFreqs(half, downscaleFreqShift, maxPeriod), [half], { ctx: t.ctx });
  const out = Tensor.empty([n, dim], 'f32', t.ctx);
  timestepKernel(t, freqs, out, { flip: flipSinToCos, scale });
  freqs.dispose();
  return out;
}
