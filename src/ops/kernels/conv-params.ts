// The convolution geometry and the declared parameters of the convolution kernels (shaders/conv_*.wgsl
// and the generated regs/rows kernels of ./conv-regs.ts). Apart from ./conv.ts so that the generators
// and the launches share them without importing each other.
import { defineParams } from '../../gpu/wgsl.js';

/**
 * A 2-D convolution's geometry. x: [B, C, H, W], w: [Co, C/G, KH, KW], y: [B, Co, OH, OW], with
 * ih = oh·sh − pt + kh·dh and iw = ow·sw − pl + kw·dw.
 */
export interface ConvGeom {
  B: number; C: number; H: number; W: number;
  Co: number; OH: number; OW: number;
  G: number; KH: number; KW: number;
  sh: number; sw: number; dh: number; dw: number;
  pt: number; pl: number;
}

/** 0: forward (y from x, w), 1: input gradient (dx from dy, w; also conv_transpose2d), 2: weight gradient (dw from x, dy). */
export type ConvMode = 0 | 1 | 2;

/**
 * The geometry every convolution kernel shares (include/conv_params): Bt images of C×H×W to Co×OH×OW,
 * G groups of Cg input and Mg output channels, top/left padding, the implicit GEMM's M, N, K; then what
 * some kernels read: a bias flag, K per split and the output size (split-K slices), the kernel size,
 * stride and dilation (include/conv_window), and `count` (conv_direct's output elements).
 */
export const CONV_PARAMS = defineParams('ConvParams', {
  Bt: 'u32', C: 'u32', H: 'u32', W: 'u32', Co: 'u32', OH: 'u32', OW: 'u32', G: 'u32', Cg: 'u32', Mg: 'u32', pt: 'u32', pl: 'u32',
  M: 'u32', N: 'u32', K: 'u32', hasBias: 'u32', kPerSplit: 'u32', outSize: 'u32',
  KH: 'u32', KW: 'u32', SH: 'u32', SW: 'u32', DH: 'u32', DW: 'u32', count: 'u32',
});
/** conv_pack.wgsl: weights repacked for the row kernels (mode 0 forward, 1 input gradient). */
export const CONV_PACK_PARAMS = defineParams('ConvPackParams', {
  G: 'u32', Cs: 'u32', KH: 'u32', KW: 'u32', M: 'u32', Mg: 'u32', Cg: 'u32', mode: 'u32',
});
/** conv_reduce.wgsl: out = Σ over `splits` slices of n elements. */
export const CONV_REDUCE_PARAMS = defineParams('ConvReduceParams', { n: 'u32', splits: 'u32' });
/** conv_bias_add.wgsl: n elements, bias[(i / pixels) % channels]. */
export const CONV_BIAS_PARAMS = defineParams('ConvBiasParams', { n: 'u32', channels: 'u32', pixels: 'u32' });

/** What a launch adds to the geometry in ConvParams (absent: 0). */
export interface ConvLaunchParams { M?: number; N?: number; K?: number; hasBias?: boolean; kPerSplit?: number; outSize?: number; count?: number }

/** ConvParams of a geometry plus the sizes and flags a launch adds. */
export function convParams(g: ConvGeom, o: ConvLaunchParams = {}): Uint32Array {
  return CONV_PARAMS.pack({
    Bt: g.B, C: g.C, H: g.H, W: g.W, Co: g.Co, OH: g.OH, OW: g.OW, G: g.G, Cg: g.C / g.G, Mg: g.Co / g.G, pt: g.pt, pl: g.pl,
    M: o.M ?? 0, N: o.N ?? 0, K: o.K ?? 0, hasBias: o.hasBias ?? false, kPerSplit: o.kPerSplit ?? 0, outSize: o.outSize ?? 0,
    KH: g.KH, KW: g.KW, SH: g.sh, SW: g.sw, DH: g.dh, DW: g.dw, count: o.count ?? 0,
  });
}

/**
 * The implicit GEMM C[M, N] = A[M, K] · B[K, N] per group of each mode: forward M = Co/G, N = B·OH·OW,
 * K = Cg·KH·KW; input gradient M = Cg, N = B·H·W, K = Mg·KH·KW; weight gradient M = Mg, N = Cg·KH·KW,
 * K = B·OH·OW.
 */
export function gemmSizes(g: ConvGeom, mode: ConvMode): { M: number; N: number; K: number } {
  const T = g.KH * g.KW;
  const Cg = g.C / g.G;
  const Mg = g.Co / g.G;
  if (mode === 0) return { M: Mg, N: g.B * g.OH * g.OW, K: Cg * T };
  if (mode === 1) return { M: Cg, N: g.B * g.H * g.W, K: Mg * T };
  return { M: Mg, N: Cg * T, K: g.B * g.OH * g.OW };
}
