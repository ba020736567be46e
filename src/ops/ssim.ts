import { noGrad } from '../autograd/grad-mode.js';
import { fusedOrComposed, record } from '../autograd/record.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { add, div, mul, neg, sub } from './elementwise.js';
import { mean } from './reduce.js';
import { reshape } from './shape.js';
import { assertFloat, sameCtx, sameShape } from './util.js';
import { filterKernel, gaussianWindow, ssimBackward, ssimForward, type SsimGeometry } from './kernels/ssim.js';

export { gaussianWindow };

// SSIM as a loss (UMO's structural term): a Gaussian window (separable), valid filtering per channel,
// C1 = (0.01·L)², C2 = (0.03·L)², the mean of the SSIM map over every position, channel and image.
// Forward: two fused kernels (horizontal pass of x, y, x², y², xy; vertical pass + SSIM map + the map's
// partial derivatives), then a mean. Backward: two fused kernels (the filter's adjoint, vertical then
// horizontal, combined with x and y). Under createGraph the vjp is composed of differentiable ops
// (a differentiable Gaussian filter and elementwise ops), so higher-order gradients work.

export interface SsimOptions {
  /** L, the dynamic range of the values (default 1). */
  dataRange?: number;
  /** Window size k (default 11). */
  windowSize?: number;
  /** Gaussian σ (default 1.5). */
  sigma?: number;
}

/** The Gaussian filter (or its adjoint) as a differentiable op: each is the other's vjp. */
function gaussFilter(t: Tensor, geo: SsimGeometry, adjoint = false): Tensor {
  const out = filterKernel(t, geo, adjoint);
  return record(adjoint ? 'gaussFilterAdjoint' : 'gaussFilter', [t], out, (g) => [gaussFilter(g, geo, !adjoint)]);
}

/** The SSIM map's partial derivatives and the input gradients, from differentiable ops. */
function composedGrads(x: Tensor, y: Tensor, g: Tensor, geo: SsimGeometry, c1: number, c2: number): [Tensor, Tensor] {
  const planes = [geo.P, geo.H, geo.W];
  const xv = reshape(x, planes);
  const yv = reshape(y, planes);
  const F = (t: Tensor) => gaussFilter(t, geo);
  const Ft = (t: Tensor) => gaussFilter(t, geo, true);
  const mx = F(xv);
  const my = F(yv);
  const exx = F(mul(xv, xv));
  const eyy = F(mul(yv, yv));
  const exy = F(mul(xv, yv));
  const mxy = mul(mx, my);
  const mxx = mul(mx, mx);
  const myy = mul(my, my);
  const A1 = add(mul(mxy, 2), c1);
  const A2 = add(mul(sub(exy, mxy), 2), c2);
  const B1 = add(add(mxx, myy), c1);
  const B2 = add(add(sub(exx, mxx), sub(eyy, myy)), c2);
  const den = mul(B1, B2);
  const S = div(mul(A1, A2), den);
  const scale = mul(g, 1 / (geo.P * geo.h * geo.w)); // 0-d: the upstream gradient of the mean
  const dA2 = div(A1, den);
  const u = mul(sub(div(A2, den), dA2), 2);
  const v = mul(sub(neg(div(S, B1)), neg(div(S, B2))), 2);
  const dB2 = mul(neg(div(S, B2)), scale);
  const dexy = mul(mul(dA2, 2), scale);
  const dmx = mul(add(mul(my, u), mul(mx, v)), scale);
  const dmy = mul(add(mul(mx, u), mul(my, v)), scale);
  const fB2 = Ft(dB2);
  const fxy = Ft(dexy);
  const gx = add(add(Ft(dmx), mul(mul(xv, 2), fB2)), mul(yv, fxy));
  const gy = add(add(Ft(dmy), mul(mul(yv, 2), fB2)), mul(xv, fxy));
  return [reshape(gx, x.shape), reshape(gy, y.shape)];
}

/**
 * Mean SSIM of two NCHW batches (as the usual pytorch `ssim` with a normalised Gaussian window and
 * groups = C valid convolution). Returns a 0-d tensor; differentiable w.r.t. both inputs.
 */
export function ssim(x: Tensor, y: Tensor, { dataRange = 1, windowSize = 11, sigma = 1.5 }: SsimOptions = {}): Tensor {
  assertFloat('ssim', x, y);
  sameCtx('ssim', x, y);
  if (x.ndim !== 4 || !sameShape(x.shape, y.shape)) {
    throw new Error(`cflens: ssim: inputs must be NCHW of one shape, got ${shapeStr(x.shape)} and ${shapeStr(y.shape)}`);
  }
  const [N, C, H, W] = x.shape;
  const k = windowSize;
  if (!Number.isInteger(k) || k < 1) throw new Error(`cflens: ssim: window size must be a positive integer, got ${k}`);
  if (H < k || W < k) throw new Error(`cflens: ssim: ${H}x${W} images of ${shapeStr(x.shape)} are smaller than the ${k}x${k} window`);
  if (N * C === 0) throw new Error(`cflens: ssim: empty input ${shapeStr(x.shape)}`);
  const geo: SsimGeometry = { P: N * C, H, W, h: H - k + 1, w: W - k + 1, k, window: gaussianWindow(k, sigma) };
  const c1 = (0.01 * dataRange) ** 2;
  const c2 = (0.03 * dataRange) ** 2;
  const { map, D } = ssimForward(x, y, geo, c1, c2);
  const value = noGrad(() => mean(map));
  map.dispose();
  const out = record('ssim', [x, y], value, (g) => fusedOrComposed(() => {
    const [gx, gy] = ssimBackward(x, y, D, g, geo);
    if (!x.requiresGrad) gx.dispose();
    if (!y.requiresGrad) gy.dispose();
    return [x.requiresGrad ? gx : null, y.requiresGrad ? gy : null];
  }, () => composedGrads(x, y, g, geo, c1, c2)), [D]);
  D.dispose();
  return out;
}
