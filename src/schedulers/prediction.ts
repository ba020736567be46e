// What a model output means under each prediction_type, and the x0 post-processing (dynamic
// thresholding, else clipping) that DDIM, DDPM and DPM-Solver apply. Scalar coefficients are float32
// values computed as torch computes them; the tensor arithmetic is differentiable.

import type { Tensor } from '../autograd/tensor.js';
import { add, clamp, div, mul, sub } from '../ops/elementwise.js';
import { reshape } from '../ops/shape.js';
import type { ClipConfig, PredictionType, ThresholdConfig } from './config.js';
import { f, sqrtf } from './f32.js';
import { dynamicThreshold } from './threshold.js';

/** Where a step is, for error messages. */
export interface StepPlace { who: string; t: number }

const place = (p?: StepPlace) => (p ? `${p.who}: at timestep ${p.t}` : 'scheduler');

function nonZero(v: number, what: string, p: StepPlace | undefined, type: PredictionType): number {
  if (v === 0) {
    throw new Error(
      `cflens: ${place(p)}: prediction_type '${type}' divides by ${what} = 0 (diffusers returns inf/NaN here); ` +
      (what === '√ᾱ_t'
        ? "ᾱ_t is 0 at the last timestep of a zero-terminal-SNR schedule: use prediction_type 'v_prediction' there"
        : 'the schedule has ᾱ_t = 1 at this timestep'),
    );
  }
  return v;
}

/** x0 from a model output (ᾱ_t = alphaProd): diffusers' pred_original_sample before clipping. */
export function predictX0(type: PredictionType, modelOutput: Tensor, x: Tensor, alphaProd: number, p?: StepPlace): Tensor {
  const a = sqrtf(alphaProd);
  const b = sqrtf(f(1 - alphaProd));
  switch (type) {
    case 'epsilon':
      return div(sub(x, mul(modelOutput, b)), nonZero(a, '√ᾱ_t', p, type));
    case 'v_prediction':
      return sub(mul(x, a), mul(modelOutput, b));
    case 'sample':
      return modelOutput;
    default:
      throw new Error(`cflens: ${place(p)}: unknown prediction_type '${type as string}' (supported: epsilon, v_prediction, sample)`);
  }
}

/** ε from a model output (before x0 is clipped), as DDIM's pred_epsilon. */
export function predictEps(type: PredictionType, modelOutput: Tensor, x: Tensor, alphaProd: number, p?: StepPlace): Tensor {
  const a = sqrtf(alphaProd);
  const b = sqrtf(f(1 - alphaProd));
  switch (type) {
    case 'epsilon':
      return modelOutput;
    case 'v_prediction':
      return add(mul(modelOutput, a), mul(x, b));
    case 'sample':
      return epsFromX0(x, modelOutput, alphaProd, p, type);
    default:
      throw new Error(`cflens: ${place(p)}: unknown prediction_type '${type as string}' (supported: epsilon, v_prediction, sample)`);
  }
}

/** ε = (x − √ᾱ·x0) / √(1 − ᾱ). */
export function epsFromX0(x: Tensor, x0: Tensor, alphaProd: number, p?: StepPlace, type: PredictionType = 'sample'): Tensor {
  return div(sub(x, mul(x0, sqrtf(alphaProd))), nonZero(sqrtf(f(1 - alphaProd)), '√(1−ᾱ_t)', p, type));
}

/** x0 and ε from a model output under the configured prediction type. */
export function splitPrediction(
  c: { prediction_type: PredictionType }, modelOutput: Tensor, x: Tensor, alphaProd: number, p?: StepPlace,
): { x0: Tensor; eps: Tensor } {
  return { x0: predictX0(c.prediction_type, modelOutput, x, alphaProd, p), eps: predictEps(c.prediction_type, modelOutput, x, alphaProd, p) };
}

/** diffusers' x0 post-processing: dynamic thresholding when `thresholding`, else clipping when `clip_sample`. */
export function processX0(c: Partial<ThresholdConfig & ClipConfig>, x0: Tensor): Tensor {
  if (c.thresholding) return dynamicThreshold(x0, c.dynamic_thresholding_ratio ?? 0.995, c.sample_max_value ?? 1);
  if (c.clip_sample) return clamp(x0, -(c.clip_sample_range ?? 1), c.clip_sample_range ?? 1);
  return x0;
}

/** A distinct handle on `result` when it is `input` itself, so that disposing the result leaves the input alive. */
export function ownHandle(result: Tensor, input: Tensor): Tensor {
  return result === input ? reshape(input, input.shape) : result;
}
