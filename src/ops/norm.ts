import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../autograd/scope.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { add, mul, rsqrt, sub } from './elementwise.js';
import { mean, variance } from './reduce.js';
import { reshape } from './shape.js';
import { assertFloat } from './util.js';

/**
 * Normalises rows of x viewed as [rows, n] with two-pass statistics (mean, then the mean of squared
 * deviations: stable for large spatial sizes). Composed of differentiable ops, so its vjp is exact
 * and higher-order gradients work.
 */
function normalizeRows(x: Tensor, rows: number, eps: number): Tensor {
  const xr = reshape(x, [rows, x.size / rows]);
  const m = mean(xr, 1, true);
  const v = variance(xr, 1, { keepdim: true, correction: 0 });
  return reshape(mul(sub(xr, m), rsqrt(add(v, eps))), x.shape);
}

/** Per-channel affine: x·w + b with w, b of shape [C] broadcast along axis 1 (or the last axes). */
function affine(y: Tensor, weight: Tensor | null | undefined, bias: Tensor | null | undefined, shape: readonly number[]): Tensor {
  let out = y;
  if (weight) out = mul(out, reshape(weight, shape));
  if (bias) out = add(out, reshape(bias, shape));
  return out;
}

export function groupNorm(x: Tensor, groups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  assertFloat('groupNorm', x);
  const [n, c] = x.shape;
  if (x.ndim < 2 || c % groups !== 0) throw new Error(`cflens: groupNorm: ${groups} groups must divide the ${c} channels of ${shapeStr(x.shape)}`);
  for (const p of [weight, bias]) if (p && (p.ndim !== 1 || p.shape[0] !== c)) throw new Error(`cflens: groupNorm: affine parameter ${shapeStr(p.shape)} must be [${c}]`);
  return tidy(() => affine(normalizeRows(x, n * groups, eps), weight, bias, [c, ...x.shape.slice(2).map(() => 1)]));
}

export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  assertFloat('layerNorm', x);
  const k = normalizedShape.length;
  if (x.shape.slice(x.ndim - k).join() !== normalizedShape.join()) {
    throw new Error(`cflens: layerNorm: normalized shape ${shapeStr(normalizedShape)} does not end the input shape ${shapeStr(x.shape)}`);
  }
  const inner = normalizedShape.reduce((a, b) => a * b, 1);
  return tidy(() => affine(normalizeRows(x, x.size / Math.max(inner, 1), eps), weight, bias, normalizedShape));
}

export interface BatchNormOptions { training?: boolean; momentum?: number; eps?: number }

/**
 * BatchNorm over (N, H, W) per channel. Inference uses the running statistics; training uses the batch
 * statistics (biased variance) and updates the running ones in place (unbiased variance), as PyTorch.
 */
export function batchNorm2d(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight?: Tensor | null, bias?: Tensor | null, { training = false, momentum = 0.1, eps = 1e-5 }: BatchNormOptions = {}): Tensor {
  assertFloat('batchNorm2d', x);
  const c = x.shape[1];
  const shape = [c, ...x.shape.slice(2).map(() => 1)];
  const axes = [0, ...x.shape.slice(2).map((_, i) => i + 2)];
  if (!training) {
    if (!runningMean || !runningVar) throw new Error('cflens: batchNorm2d: inference needs running statistics (or training: true)');
    return tidy(() => affine(mul(sub(x, reshape(runningMean, shape)), reshape(rsqrt(add(runningVar, eps)), shape)), weight, bias, shape));
  }
  return tidy(() => {
    const m = mean(x, axes, true);
    const v = variance(x, axes, { keepdim: true, correction: 0 });
    if (runningMean && runningVar) {
      const count = x.size / c;
      noGrad(() => {
        blendInPlace(runningMean, reshape(m, [c]), momentum, 1);
        blendInPlace(runningVar, reshape(v, [c]), momentum, count / Math.max(count - 1, 1));
      });
    }
    return affine(mul(sub(x, m), rsqrt(add(v, eps))), weight, bias, shape);
  });
}

/** running = (1 − momentum)·running + momentum·scale·batch, in place (buffers, never on the tape). */
function blendInPlace(running: Tensor, batch: Tensor, momentum: number, scale: number): void {
  const next = add(mul(running, 1 - momentum), mul(batch, momentum * scale));
  running.ctx.copyBuffer(next.buffer, 0, running.buffer, 0, running.size * 4);
  next.dispose();
}
