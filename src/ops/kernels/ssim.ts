// The SSIM kernels: a separable Gaussian window, valid filtering per plane (shaders/ssim_*.wgsl, the
// window's taps a run-time tail of SsimParams).
import { Tensor } from '../../autograd/tensor.js';
import { defineParams } from '../../gpu/wgsl.js';
import { grid1D, launch, shader } from '../util.js';

/** Normalised 1-D Gaussian centred on the middle tap. */
export function gaussianWindow(size: number, sigma: number): number[] {
  const g = Array.from({ length: size }, (_, i) => Math.exp(-((i - (size - 1) / 2) ** 2) / (2 * sigma * sigma)));
  const total = g.reduce((a, b) => a + b, 0);
  return g.map((v) => v / total);
}

/** P planes of H×W, valid maps h×w, the k taps of the window. */
export interface SsimGeometry { P: number; H: number; W: number; h: number; w: number; k: number; window: number[] }

/**
 * The SSIM kernels' parameters: P planes of H×W, valid maps h×w, window size k and its taps; c1, c2 the
 * forward's constants, meanScale = 1/(P·h·w) the backward's (each kernel reads what it needs).
 */
const SSIM_PARAMS = defineParams('SsimParams', {
  P: 'u32', H: 'u32', W: 'u32', h: 'u32', w: 'u32', k: 'u32', c1: 'f32', c2: 'f32', meanScale: 'f32', window: ['f32', '*'],
});
const ssimParams = (geo: SsimGeometry, o: { c1?: number; c2?: number; meanScale?: number } = {}) =>
  SSIM_PARAMS.pack({ ...geo, c1: o.c1 ?? 0, c2: o.c2 ?? 0, meanScale: o.meanScale ?? 0 });

/** Raw kernel (no tape): the valid Gaussian filter of planes [P, H, W] (MODE 0) or its adjoint (MODE 1). */
export function filterKernel(t: Tensor, geo: SsimGeometry, adjoint: boolean): Tensor {
  const { P, H, W, h, w } = geo;
  const out = Tensor.empty(adjoint ? [P, H, W] : [P, h, w], 'f32', t.ctx);
  if (out.size) {
    launch(t.ctx, shader('ssim_filter', { MODE: adjoint ? 1 : 0 }, SSIM_PARAMS), [t.buffer, out.buffer], ssimParams(geo), grid1D(out.size, 256));
  }
  return out;
}

/**
 * The forward kernels: the horizontal pass of x, y, x², y², xy, then the vertical pass with the SSIM map
 * and its partial derivatives D [4, P, h, w] (kept for the backward). Returns the map [P, h, w] and D.
 */
export function ssimForward(x: Tensor, y: Tensor, geo: SsimGeometry, c1: number, c2: number): { map: Tensor; D: Tensor } {
  const { P, H, h, w } = geo;
  const ctx = x.ctx;
  const T = Tensor.empty([5, P, H, w], 'f32', ctx);
  const map = Tensor.empty([P, h, w], 'f32', ctx);
  const D = Tensor.empty([4, P, h, w], 'f32', ctx);
  const meta = ssimParams(geo, { c1, c2 });
  const bufs = [x.buffer, y.buffer, T.buffer, map.buffer, D.buffer];
  launch(ctx, shader('ssim_fwd', { MODE: 0 }, SSIM_PARAMS), bufs, meta, grid1D(P * H * w, 256));
  launch(ctx, shader('ssim_fwd', { MODE: 1 }, SSIM_PARAMS), bufs, meta, grid1D(P * h * w, 256));
  T.dispose();
  return { map, D };
}

/** The backward kernels (the filter's adjoint, vertical then horizontal, with x and y): gx, gy from D and g (0-d). */
export function ssimBackward(x: Tensor, y: Tensor, D: Tensor, g: Tensor, geo: SsimGeometry): [Tensor, Tensor] {
  const { P, H, W, h, w } = geo;
  const ctx = x.ctx;
  const U = Tensor.empty([4, P, H, w], 'f32', ctx);
  const gx = Tensor.empty(x.shape, 'f32', ctx);
  const gy = Tensor.empty(y.shape, 'f32', ctx);
  const m = ssimParams(geo, { meanScale: 1 / (P * h * w) });
  const b = [x.buffer, y.buffer, D.buffer, g.buffer, U.buffer, gx.buffer, gy.buffer];
  launch(ctx, shader('ssim_bwd', { MODE: 0 }, SSIM_PARAMS), b, m, grid1D(P * H * w, 256));
  launch(ctx, shader('ssim_bwd', { MODE: 1 }, SSIM_PARAMS), b, m, grid1D(P * H * W, 256));
  U.dispose();
  return [gx, gy];
}
