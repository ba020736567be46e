import type { NDArray } from './core.ts';
import { map } from './elementwise.ts';
import { erf } from './erf.ts';

const SQRT_HALF = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Overflow-free logistic function. */
export function sigmoidScalar(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

/** log(1 + e^v) without overflow. */
function softplusScalar(v: number): number {
  return Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
}

export const sigmoid = (x: NDArray) => map(x, sigmoidScalar);
export const relu = (x: NDArray) => map(x, (v) => (v > 0 || Number.isNaN(v) ? v : 0));
export const leakyRelu = (x: NDArray, slope = 0.01) => map(x, (v) => (v >= 0 ? v : v * slope));
/** F.gelu(x): exact erf form. */
export const gelu = (x: NDArray) => map(x, (v) => 0.5 * v * (1 + erf(v * SQRT_HALF)));
/** F.gelu(x, approximate='tanh'). */
export const geluTanh = (x: NDArray) =>
  map(x, (v) => 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))));
/** CLIP's quick_gelu: x * sigmoid(1.702 x). */
export const quickGelu = (x: NDArray) => map(x, (v) => v * sigmoidScalar(1.702 * v));
export const silu = (x: NDArray) => map(x, (v) => v * sigmoidScalar(v));
export const mish = (x: NDArray) => map(x, (v) => v * Math.tanh(softplusScalar(v)));

/** F.softplus(x, beta, threshold): linear once beta*x exceeds threshold, as PyTorch. */
export function softplus(x: NDArray, beta = 1, threshold = 20): NDArray {
  return map(x, (v) => (v * beta > threshold ? v : softplusScalar(v * beta) / beta));
}
