// The convolution kernels: which one serves a mode on this adapter and shape (convKernel), the GEMM
// tiles and split-K plans, the K table, and the raw launches (no tape) of the forward, input-gradient and
// weight-gradient kernels. The geometry and parameters are in ./conv-params.ts, the generated CPU
// kernels in ./conv-regs.ts; shaders/conv_gemm.wgsl and conv_direct.wgsl are the GPU ones.
import { Tensor } from '../../autograd/tensor.js';
import { subgroupLanes, type GpuContext } from '../../gpu/context.js';
import { defineFlag } from '../../gpu/flags.js';
import { generated, unrollLoops } from '../../gpu/wgsl.js';
import { contiguousStrides, grid1D, launch, shader } from '../util.js';
import {
  CONV_BIAS_PARAMS, CONV_PACK_PARAMS, CONV_PARAMS, CONV_REDUCE_PARAMS, convParams, gemmSizes, type ConvGeom, type ConvMode,
} from './conv-params.js';
import { convRegsShader, convRegsWgradShader, convRowsShader, convRowsWgradShader, rowShift } from './conv-regs.js';
import { fillBuffer } from './fill.js';
import { matmulKernelFor, runGemm as runMatmul } from './matmul.js';
import { stridedCopy } from './strided.js';

export type { ConvGeom, ConvMode } from './conv-params.js';

// ---------------------------------------------------------------------------------------------------
// Kernel choice.

/**
 * 'gemm': conv_gemm (workgroup-memory tiles); 'regs': conv_regs where the mode has it, else gemm;
 * 'rows': conv_rows where the geometry allows (see rowsFit), else as 'regs'; 'matmul': pointwise
 * convolutions on the matmul kernel (see pointwise), others as 'auto'. CPU adapters default to 'matmul'
 * for pointwise convolutions and 'rows' for the rest.
 */
export type ConvAlgo = 'auto' | 'gemm' | 'direct' | 'regs' | 'rows' | 'matmul';

declare module '../../gpu/flags.js' {
  interface FlagValues {
    'conv.algo': ConvAlgo;
    'conv.tile': TileConfig | null;
    'conv.splitK': number | null;
  }
}
defineFlag({
  name: 'conv.algo', default: 'auto',
  doc: "conv2d's kernels: 'auto' (by adapter and shape), 'gemm', 'direct', 'regs', 'rows', 'matmul' (pointwise on the matmul kernel)",
});
defineFlag({ name: 'conv.tile', default: null, doc: 'the conv_gemm tile {BM, BN, BK, TM, TN} (null: chosen by shape)' });
defineFlag({ name: 'conv.splitK', default: null, doc: 'the split-K factor of the GEMM convolution kernels (null: by the work-group target)' });

/**
 * The kernel that runs a mode: 'matmul' (a pointwise convolution on the matmul kernel), 'rows' (the row
 * kernels; for the weight gradient the row variant of the regs one), 'regs', 'gemm' (conv_gemm.wgsl) or
 * 'direct' (conv_direct.wgsl).
 */
export type ConvKernel = 'matmul' | 'rows' | 'regs' | 'gemm' | 'direct';

/** The kernel for this mode and geometry: the 'conv.algo' flag, else by adapter and shape. */
export function convKernel(ctx: GpuContext, g: ConvGeom, mode: ConvMode): ConvKernel {
  if (pointwise(ctx, g)) return 'matmul';
  if (mode !== 2 && rowsFit(ctx, g, mode)) return 'rows';
  // On CPU adapters conv_direct is ~20× slower than the regs kernels even where few output channels
  // (conv_out's 3) or few weight columns (conv_in's 3·3·3) leave the GEMM small.
  if (!useGemm(ctx, g, mode) && !(cpuDefaults(ctx) && useRegs(ctx, g, mode))) return 'direct';
  if (!useRegs(ctx, g, mode)) return 'gemm';
  return mode === 2 && rowsFit(ctx, g, 2) ? 'rows' : 'regs';
}

function useGemm(ctx: GpuContext, g: ConvGeom, mode: ConvMode): boolean {
  const algo = ctx.flags.get('conv.algo');
  if (algo !== 'auto' && algo !== 'matmul') return algo !== 'direct';
  const { M, N, K } = gemmSizes(g, mode);
  return M >= 8 && N >= 32 && K >= 8;
}

/** Whether the CPU adapters' choices apply: 'auto' (or 'matmul', which is 'auto' beyond pointwise convolutions) on a regs-matmul adapter. */
function cpuDefaults(ctx: GpuContext): boolean {
  const algo = ctx.flags.get('conv.algo');
  return (algo === 'auto' || algo === 'matmul') && matmulKernelFor(ctx) === 'regs';
}

/** The regs kernel serves the table modes and the weight gradient; CPU adapters use it unless another algorithm is forced. */
function useRegs(ctx: GpuContext, g: ConvGeom, mode: ConvMode): boolean {
  const supported = mode !== 1 || (g.sh === 1 && g.sw === 1);
  if (!supported) return false;
  const algo = ctx.flags.get('conv.algo');
  return algo === 'regs' || algo === 'rows' || cpuDefaults(ctx);
}

/**
 * Pointwise convolutions (1×1 kernel, unit stride, no padding, one group) are a matrix product per
 * image, y[b] = W·x[b] with W as [Co, C] and x[b] as [C, H·W]: they run on the matmul kernel under
 * 'matmul', and under 'auto' on CPU adapters, where the regs matmul beats the row kernels on them
 * (bench/conv.ts). GPUs keep conv_gemm (not measured against the matmul there).
 */
function pointwise(ctx: GpuContext, g: ConvGeom): boolean {
  if (ctx.flags.get('conv.algo') !== 'matmul' && !cpuDefaults(ctx)) return false;
  return g.KH === 1 && g.KW === 1 && g.sh === 1 && g.sw === 1 && g.G === 1 && g.pt === 0 && g.pl === 0 && g.OH === g.H && g.OW === g.W;
}

/**
 * Whether the row kernels serve this forward (mode 0), input gradient (mode 1) or weight gradient
 * (mode 2): subgroups of a fixed size ≥ 4, unit stride and dilation along the width, an output as wide
 * as its source and a multiple of 4, at most 4 kernel columns each shifting by at most 4 pixels.
 */
function rowsFit(ctx: GpuContext, g: ConvGeom, mode: ConvMode): boolean {
  if (ctx.flags.get('conv.algo') !== 'rows' && !cpuDefaults(ctx)) return false;
  if (subgroupLanes(ctx) < 4) return false;
  if (g.sw !== 1 || g.dw !== 1 || g.OW !== g.W || g.W % 4 !== 0 || g.KW > 4) return false;
  if (mode === 1 && g.sh !== 1) return false;
  for (let kw = 0; kw < g.KW; kw++) if (Math.abs(rowShift(mode === 1 ? 1 : 0, kw, g.pl)) > 4) return false;
  // One workgroup per 4·SG output pixels along x (mode 2: per SG (channel, kernel row) pairs).
  const { N } = gemmSizes(g, mode);
  const across = mode === 2 ? ((g.C / g.G) * g.KH) / subgroupLanes(ctx) : N / (4 * subgroupLanes(ctx));
  return Math.ceil(across) <= ctx.device.limits.maxComputeWorkgroupsPerDimension;
}

// ---------------------------------------------------------------------------------------------------
// The entry points: output allocated, kernel chosen and launched.

/** y = conv2d(x, w) + b. */
export function convForwardKernel(x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeom): Tensor {
  const y = Tensor.empty([g.B, g.Co, g.OH, g.OW], 'f32', x.ctx);
  if (y.size) runDataMode(g, 0, w, x, b, y);
  return y;
}

/** dx = (d conv2d / dx)ᵀ dy (+ b): the input gradient, which is also conv_transpose2d(dy, w) + b. */
export function convBackwardDataKernel(dy: Tensor, w: Tensor, b: Tensor | null, g: ConvGeom): Tensor {
  const dx = Tensor.empty([g.B, g.C, g.H, g.W], 'f32', dy.ctx);
  if (dx.size) runDataMode(g, 1, w, dy, b, dx);
  return dx;
}

/** The forward (mode 0: src = x, out = y) or the input gradient (mode 1: src = dy, out = dx), plus the bias. */
function runDataMode(g: ConvGeom, mode: 0 | 1, w: Tensor, src: Tensor, b: Tensor | null, out: Tensor): void {
  const ctx = src.ctx;
  if (mode === 1) {
    const unit = unitStrideInputGradient(ctx, g);
    if (unit) {
      const dilated = dilate(src, g, unit);
      runDataMode(unit, 1, w, dilated, b, out);
      dilated.dispose();
      return;
    }
  }
  const bias = b?.buffer ?? null;
  const kernel = convKernel(ctx, g, mode);
  switch (kernel) {
    case 'matmul':
      runPointwise(ctx, g, mode, w.buffer, src.buffer, out);
      if (bias) addBias(ctx, out, bias, out.shape[1], out.shape[2] * out.shape[3]);
      break;
    case 'rows': runRows(ctx, g, mode, w.buffer, src.buffer, bias, out); break;
    case 'direct': runDirect(ctx, g, mode, src.buffer, w.buffer, bias, out); break;
    case 'regs':
    case 'gemm': {
      // The GEMM kernels' A: the forward's w as it is, the input gradient's w permuted.
      const a = mode === 0 ? w : weightByInputChannel(w, g);
      if (kernel === 'regs') runRegs(ctx, g, mode, a.buffer, src.buffer, bias, out);
      else runGemm(ctx, g, mode, a.buffer, src.buffer, bias, out);
      if (a !== w) a.dispose();
    }
  }
}

/**
 * The input gradient of a strided convolution as that of a unit-stride one: dy with zeros between its
 * pixels (dy_dilated[s·i] = dy[i]) over an H × W grid, so that dx = Σ dy_dilated[h + pt − kh·dh] · w
 * is the unit-stride formula. It does s_h·s_w times the work, on kernels that run it ~40× faster than
 * conv_gemm's strided input gradient on CPU adapters (a stride-2 3×3 of 16 channels at 32×32, batch 16:
 * 212 ms → 5 ms). Only where the CPU defaults apply and the dilated dy fits in H × W.
 */
function unitStrideInputGradient(ctx: GpuContext, g: ConvGeom): ConvGeom | null {
  if (g.sh === 1 && g.sw === 1) return null;
  if (!cpuDefaults(ctx) || g.G !== 1) return null;
  if ((g.OH - 1) * g.sh >= g.H || (g.OW - 1) * g.sw >= g.W) return null;
  return { ...g, sh: 1, sw: 1, OH: g.H, OW: g.W };
}

/** dy [B, Co, OH, OW] spread over [B, Co, H, W] with the stride of `g` between its pixels, zeros elsewhere. */
function dilate(dy: Tensor, g: ConvGeom, unit: ConvGeom): Tensor {
  const out = Tensor.empty([g.B, g.Co, unit.OH, unit.OW], 'f32', dy.ctx);
  fillBuffer(dy.ctx, out.buffer, out.size, 0);
  const s = contiguousStrides(out.shape);
  stridedCopy(dy, { offset: 0, strides: contiguousStrides(dy.shape) }, out, { offset: 0, strides: [s[0], s[1], s[2] * g.sh, g.sw] }, dy.shape);
  return out;
}

/** dw = Σ_{b, oh, ow} dy · im2col(x): the weight gradient. */
export function convBackwardWeightKernel(x: Tensor, dy: Tensor, g: ConvGeom): Tensor {
  const ctx = x.ctx;
  const dw = Tensor.empty([g.Co, g.C / g.G, g.KH, g.KW], 'f32', ctx);
  if (!dw.size) return dw;
  if (g.B * g.OH * g.OW === 0) {
    fillBuffer(ctx, dw.buffer, dw.size, 0);
    return dw;
  }
  const kernel = convKernel(ctx, g, 2);
  switch (kernel) {
    case 'matmul': runPointwise(ctx, g, 2, dy.buffer, x.buffer, dw); break;
    case 'rows':
    case 'regs': runRegsWgrad(ctx, g, dy.buffer, x.buffer, dw, kernel === 'rows'); break;
    case 'gemm': runGemm(ctx, g, 2, dy.buffer, x.buffer, null, dw); break;
    case 'direct': runDirect(ctx, g, 2, x.buffer, dy.buffer, null, dw); break;
  }
  return dw;
}

/** The input gradient's A: w as [G, Cg, Mg, T], so each row (one input channel) is contiguous over (co, kh, kw). */
function weightByInputChannel(w: Tensor, g: ConvGeom): Tensor {
  const T = g.KH * g.KW;
  const Cg = g.C / g.G;
  const Mg = g.Co / g.G;
  const wt = Tensor.empty([g.G, Cg, Mg, T], 'f32', w.ctx);
  const ws = contiguousStrides([g.G, Mg, Cg, T]);
  stridedCopy(w, { offset: 0, strides: [ws[0], ws[2], ws[1], ws[3]] }, wt, { offset: 0, strides: contiguousStrides(wt.shape) }, wt.shape);
  return wt;
}

// ---------------------------------------------------------------------------------------------------
// Launches.

/** Bound where the bias is absent. */
const dummy = (ctx: GpuContext): GPUBuffer => ctx.constantBuffer('placeholder', 16);

/** Pointwise forward (mode 0: y[b] = W·x[b]), input gradient (1: dx[b] = Wᵀ·dy[b]) or weight gradient (2: Σ_b dy[b]·x[b]ᵀ). */
function runPointwise(ctx: GpuContext, g: ConvGeom, mode: ConvMode, a: GPUBuffer, b: GPUBuffer, out: Tensor): void {
  const P = g.H * g.W;
  const [C, Co, B] = [g.C, g.Co, g.B];
  if (mode === 0) runMatmul(ctx, { M: Co, N: P, K: C, ta: false, tb: false, a, b, batch: [B], aStr: [0], bStr: [C * P], sM: P, sN: 1 }, out);
  else if (mode === 1) runMatmul(ctx, { M: C, N: P, K: Co, ta: true, tb: false, a, b, batch: [B], aStr: [0], bStr: [Co * P], sM: P, sN: 1 }, out);
  else if (B === 1) runMatmul(ctx, { M: Co, N: C, K: P, ta: false, tb: true, a, b, batch: [1], aStr: [0], bStr: [0], sM: C, sN: 1 }, out);
  else {
    const each = Tensor.empty([B, Co, C], 'f32', ctx);
    runMatmul(ctx, { M: Co, N: C, K: P, ta: false, tb: true, a, b, batch: [B], aStr: [Co * P], bStr: [C * P], sM: C, sN: 1 }, each);
    sumSlices(ctx, each, out, B);
  }
}

/** out = Σ_s part[s] over `slices` slices of out's size (conv_reduce), then frees `part`. */
function sumSlices(ctx: GpuContext, part: Tensor, out: Tensor, slices: number): void {
  const params = CONV_REDUCE_PARAMS.pack({ n: out.size, splits: slices });
  launch(ctx, shader('conv_reduce', {}, CONV_REDUCE_PARAMS), [part.buffer, out.buffer], params, grid1D(out.size, 256));
  part.dispose();
}

/** Adds the bias [channels] to an NCHW tensor in place. */
function addBias(ctx: GpuContext, out: Tensor, bias: GPUBuffer, channels: number, pixels: number): void {
  const params = CONV_BIAS_PARAMS.pack({ n: out.size, channels, pixels });
  launch(ctx, shader('conv_bias_add', {}, CONV_BIAS_PARAMS), [bias, out.buffer], params, grid1D(out.size, 64));
}

/**
 * A split-K launch: with one split, straight into `out` on a [gx, gy, G] grid; else each split z / G
 * into its slice of a temporary, summed into `out` by conv_reduce.
 */
function launchSplitK(
  ctx: GpuContext, code: string, inputs: GPUBuffer[], params: Uint32Array, grid: [number, number], G: number, splits: number, out: Tensor,
): void {
  if (splits === 1) {
    launch(ctx, code, [...inputs, out.buffer], params, [...grid, G]);
    return;
  }
  const part = Tensor.empty([splits * out.size], 'f32', ctx);
  launch(ctx, code, [...inputs, part.buffer], params, [...grid, G * splits]);
  sumSlices(ctx, part, out, splits);
}

/** The most splits (at most `splits`) whose slices of `out` fit one binding. */
function splitsThatFit(ctx: GpuContext, splits: number, out: Tensor): number {
  while (splits > 1 && splits * out.size * 4 > ctx.maxBinding) splits--;
  return splits;
}

/** The block of the regs and row kernels: SG subgroup lanes (0: none), WG lanes, TM rows per workgroup. */
function regsBlock(ctx: GpuContext, M: number): { SG: number; WG: number; TM: number } {
  const SG = subgroupLanes(ctx);
  return { SG, WG: SG || 8, TM: M <= 4 ? 4 : 16 };
}

/** The row kernel: weights repacked (conv_pack.wgsl), then one pass over (source channel, kernel row). */
function runRows(ctx: GpuContext, g: ConvGeom, mode: 0 | 1, w: GPUBuffer, src: GPUBuffer, bias: GPUBuffer | null, out: Tensor): void {
  const { M, N, K } = gemmSizes(g, mode);
  const { SG, TM } = regsBlock(ctx, M);
  const Cs = mode === 0 ? g.C / g.G : g.Co / g.G;
  const packed = Tensor.empty([g.G * Cs * g.KH * M * 4], 'f32', ctx);
  const count = g.G * Cs * g.KH * M;
  const pack = CONV_PACK_PARAMS.pack({ G: g.G, Cs, KH: g.KH, KW: g.KW, M, Mg: g.Co / g.G, Cg: g.C / g.G, mode });
  launch(ctx, shader('conv_pack', {}, CONV_PACK_PARAMS), [w, packed.buffer], pack, grid1D(count, 64));
  const code = convRowsShader({ MODE: mode, SH: g.sh, DH: g.dh, KH: g.KH, KW: g.KW, pl: g.pl, TM, SG });
  const params = convParams(g, { M, N, K, hasBias: !!bias });
  launch(ctx, code, [packed.buffer, src, bias ?? dummy(ctx), out.buffer], params, [Math.ceil(N / (4 * SG)), Math.ceil(M / TM), g.G]);
  packed.dispose();
}

/** The regs kernel of the table modes (forward; input gradient at stride 1). */
function runRegs(ctx: GpuContext, g: ConvGeom, mode: 0 | 1, a: GPUBuffer, b: GPUBuffer, bias: GPUBuffer | null, out: Tensor): void {
  const { M, N, K } = gemmSizes(g, mode);
  const { SG, WG, TM } = regsBlock(ctx, M);
  const code = convRegsShader({ MODE: mode, TM, SG, WG, vecA: K % 4 === 0 });
  const params = convParams(g, { M, N, K, hasBias: !!bias });
  launch(ctx, code, [a, b, bias ?? dummy(ctx), kTable(ctx, g, mode, K)!, out.buffer], params, [Math.ceil(N / (4 * WG)), Math.ceil(M / TM), g.G]);
}

/** Workgroups the regs weight gradient aims for (CPU adapters run a few per core). */
const REGS_WORKGROUPS = 32;

/** Weight gradient with the regs kernel or its row variant, split over K so that enough workgroups run. */
function runRegsWgrad(ctx: GpuContext, g: ConvGeom, dy: GPUBuffer, x: GPUBuffer, out: Tensor, rows: boolean): void {
  const { M, N, K } = gemmSizes(g, 2);
  const { SG, WG, TM } = regsBlock(ctx, M);
  // Lanes own 4 columns n (regs) or the KW columns of one (input channel, kernel row) (rows).
  const gx = rows ? Math.ceil(((g.C / g.G) * g.KH) / WG) : Math.ceil(N / (4 * WG));
  const gy = Math.ceil(M / TM);
  const tiles = gx * gy * g.G;
  let splits = ctx.flags.get('conv.splitK') ?? Math.max(1, Math.min(Math.ceil(REGS_WORKGROUPS / tiles), Math.floor(K / 256)));
  splits = splitsThatFit(ctx, splits, out);
  const per = Math.ceil(K / Math.max(1, splits) / 4) * 4;
  splits = Math.ceil(K / per);
  const code = rows
    ? convRowsWgradShader({ SH: g.sh, DH: g.dh, KH: g.KH, KW: g.KW, pl: g.pl, TM, SG })
    : convRegsWgradShader({ TM, SG, WG, vecA: (g.OH * g.OW) % 4 === 0, row4: g.OW % 4 === 0 });
  launchSplitK(ctx, code, [dy, x], convParams(g, { M, N, K, kPerSplit: per, outSize: out.size }), [gx, gy], g.G, splits, out);
}

export interface TileConfig { BM: number; BN: number; BK: number; TM: number; TN: number }
// Tiles measured on an H100 (bench/conv.ts --tiles): 64x128 with 8x8 outputs per thread (128 threads)
// was best at UNet shapes; 128x64 suits tall problems, 16x64 few output channels.
const TILE_WIDE: TileConfig = { BM: 64, BN: 128, BK: 8, TM: 8, TN: 8 };
const TILE_TALL: TileConfig = { BM: 128, BN: 64, BK: 8, TM: 8, TN: 4 };
const TILE_SQUARE: TileConfig = { BM: 64, BN: 64, BK: 8, TM: 4, TN: 4 };
const TILE_SMALL: TileConfig = { BM: 16, BN: 64, BK: 16, TM: 4, TN: 4 };
/** The GEMM tiles by name (tests and benchmarks force them through the 'conv.tile' flag). */
export const CONV_TILES = { wide: TILE_WIDE, tall: TILE_TALL, square: TILE_SQUARE, small: TILE_SMALL } as const;

/**
 * The tile with the least padding (within 5%, earlier candidates win). CPU adapters reach conv_gemm only
 * for what the regs/rows kernels do not cover (strided input gradients) and take the square tile there:
 * llvmpipe compiles it several times faster than the others, for a little more run time (bench/compile.ts,
 * bench/conv.ts; figures in docs/engine.md).
 */
function pickTile(ctx: GpuContext, M: number, N: number): TileConfig {
  if (ctx.caps.isCpu) return TILE_SQUARE;
  if (M < 48) return TILE_SMALL;
  const padded = (t: TileConfig) => Math.ceil(M / t.BM) * t.BM * Math.ceil(N / t.BN) * t.BN;
  let best = TILE_WIDE;
  for (const t of [TILE_TALL, TILE_SQUARE]) if (padded(t) * 1.05 < padded(best)) best = t;
  return best;
}

/** Work-groups to aim for: split K when the output tiles alone would leave a big GPU idle. */
const TARGET_WORKGROUPS = 256;
const MIN_TILES_PER_SPLIT = 16;

/** A conv_gemm launch: the tile, the output tiles' grid, K tiles per split and the splits. */
interface GemmPlan { tile: TileConfig; grid: [number, number]; tilesPerSplit: number; splits: number }

function planGemm(ctx: GpuContext, g: ConvGeom, mode: ConvMode, out: Tensor): GemmPlan {
  const { M, N, K } = gemmSizes(g, mode);
  const tile = ctx.flags.get('conv.tile') ?? pickTile(ctx, M, N);
  const nt = (tile.BM / tile.TM) * (tile.BN / tile.TN);
  if (nt % tile.BN || nt % tile.BK || tile.TM % 4 || tile.TN % 4 || (tile.BM * tile.BK) % nt || (tile.BK * tile.BN) % nt) {
    throw new Error(`cflens: internal: conv tile ${JSON.stringify(tile)} does not fit its ${nt} threads`);
  }
  const gx = Math.ceil(N / tile.BN);
  const gy = Math.ceil(M / tile.BM);
  const tiles = gx * gy * g.G;
  const kTiles = Math.ceil(K / tile.BK);
  let splits = ctx.flags.get('conv.splitK')
    ?? (tiles >= TARGET_WORKGROUPS ? 1 : Math.min(Math.round(TARGET_WORKGROUPS / tiles), Math.floor(kTiles / MIN_TILES_PER_SPLIT)));
  splits = splitsThatFit(ctx, Math.max(1, Math.min(splits, kTiles)), out);
  const tilesPerSplit = Math.ceil(kTiles / splits);
  return { tile, grid: [gx, gy], tilesPerSplit, splits: Math.ceil(kTiles / tilesPerSplit) };
}

/** conv_gemm.wgsl for a mode and tile (one pipeline serves every geometry); split over K where few tiles would run. */
function runGemm(ctx: GpuContext, g: ConvGeom, mode: ConvMode, a: GPUBuffer, b: GPUBuffer, bias: GPUBuffer | null, out: Tensor): void {
  const { M, N, K } = gemmSizes(g, mode);
  const plan = planGemm(ctx, g, mode, out);
  const code = gemmCode({ MODE: mode, TABLE: String(usesTable(g, mode)), ...plan.tile });
  const params = convParams(g, { M, N, K, hasBias: !!bias, kPerSplit: plan.tilesPerSplit, outSize: out.size });
  const table = kTable(ctx, g, mode, K) ?? dummy(ctx);
  launchSplitK(ctx, code, [a, b, bias ?? dummy(ctx), table], params, plan.grid, g.G, plan.splits, out);
}

/** conv_gemm.wgsl filled in, with every loop over a compile-time bound unrolled. */
function gemmCode(fill: Record<string, string | number>): string {
  const n = (k: string) => Number(fill[k]);
  const [BM, BN, BK, TM, TN] = [n('BM'), n('BN'), n('BK'), n('TM'), n('TN')];
  return generated('conv_gemm', JSON.stringify(fill), `conv_gemm[${['fwd', 'dgrad', 'wgrad'][n('MODE')]} ${BM}x${BN}]`, () => {
    const NT = (BM / TM) * (BN / TN);
    const consts: Record<string, number> = {
      BK, TM, TN, RM: TM / 4, RN: TN / 4, LA: (BM * BK) / NT, LB: (BK * BN) / NT,
    };
    return unrollLoops(shader('conv_gemm', fill, CONV_PARAMS), consts);
  });
}

function runDirect(ctx: GpuContext, g: ConvGeom, mode: ConvMode, a: GPUBuffer, b: GPUBuffer, bias: GPUBuffer | null, out: Tensor): void {
  const code = shader('conv_direct', { MODE: mode }, CONV_PARAMS);
  const count = out.size;
  const grid = mode === 2 ? grid1D(count, 1) : grid1D(count, 64);
  launch(ctx, code, [a, b, bias ?? dummy(ctx), out.buffer], convParams(g, { count, hasBias: !!bias }), grid);
}

// ---------------------------------------------------------------------------------------------------
// The K table.

const TABLE_PAD = 64; // entries past K, for any BK up to 64

/** Whether the mode decodes K through the table: MODE 0, and MODE 1 at stride 1. */
function usesTable(g: ConvGeom, mode: ConvMode): boolean {
  return mode === 0 || (mode === 1 && g.sh === 1 && g.sw === 1);
}

/**
 * The K decoding table of MODE 0 and of MODE 1 at stride 1: for k = (c, kh, kw), the offset of the B
 * element from the thread's column base, and its row and column shifts (for the bounds test). Padded
 * entries fail the bounds test. Cached per geometry.
 */
function kTable(ctx: GpuContext, g: ConvGeom, mode: ConvMode, K: number): GPUBuffer | null {
  if (!usesTable(g, mode)) return null;
  const [rows, cols] = mode === 0 ? [g.H, g.W] : [g.OH, g.OW];
  return ctx.constantBuffer(`conv-ktable:${mode}:${K}:${g.KH}x${g.KW}:${g.dh},${g.dw}:${rows}x${cols}`, () => {
    const T = g.KH * g.KW;
    const n = Math.ceil(K / TABLE_PAD) * TABLE_PAD + TABLE_PAD;
    const data = new Int32Array(4 * n);
    const sign = mode === 0 ? 1 : -1;
    for (let k = 0; k < n; k++) {
      if (k >= K) {
        data[4 * k + 1] = -(1 << 30);
        continue;
      }
      const c = Math.floor(k / T);
      const t = k % T;
      const dh = sign * Math.floor(t / g.KW) * g.dh;
      const dw = sign * (t % g.KW) * g.dw;
      data[4 * k] = c * rows * cols + dh * cols + dw;
      data[4 * k + 1] = dh;
      data[4 * k + 2] = dw;
    }
    return data;
  });
}
