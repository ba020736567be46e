import { record } from '../autograd/record.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import type { GpuContext } from '../gpu/context.js';
import { sum } from './reduce.js';
import { stridedCopy } from './kernels/strided.js';
import { generated, unrollLoops } from '../gpu/wgsl.js';
import { fillBuffer } from './kernels/fill.js';
import { convRegsShader, convRegsWgradShader, convRowsShader, convRowsWgradShader, rowShift } from './conv-regs.js';
import { matmulKernelFor, runGemm as runMatmul } from './matmul.js';
import { subgroupLanes } from '../gpu/context.js';
import { defineFlag } from '../gpu/flags.js';
import { assertFloat, contiguousStrides, grid1D, launch, sameCtx, shader } from './util.js';

// ---------------------------------------------------------------------------------------------
// Geometry shared by the three convolution kernels. x: [B, C, H, W], w: [Co, C/G, KH, KW],
// y: [B, Co, OH, OW], with ih = oh·sh − pt + kh·dh and iw = ow·sw − pl + kw·dw.

export interface Conv2dOptions {
  stride?: number | readonly [number, number];
  /** number, [h, w], or [top, bottom, left, right] (asymmetric). */
  padding?: number | readonly [number, number] | readonly [number, number, number, number];
  dilation?: number | readonly [number, number];
  groups?: number;
}

export interface ConvTranspose2dOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  outputPadding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
  groups?: number;
}

export interface ConvGeom {
  B: number; C: number; H: number; W: number;
  Co: number; OH: number; OW: number;
  G: number; KH: number; KW: number;
  sh: number; sw: number; dh: number; dw: number;
  pt: number; pl: number;
}

function pairOf(op: string, name: string, v: number | readonly number[] | undefined, dflt: number): [number, number] {
  const p: readonly number[] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : v;
  if (p.length !== 2 || !p.every((d) => Number.isInteger(d))) {
    throw new Error(`cflens: ${op}: ${name} must be an integer or a pair of integers, got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}

function positive(op: string, name: string, p: readonly number[]): void {
  if (p.some((d) => d < 1)) throw new Error(`cflens: ${op}: ${name} must be positive, got ${JSON.stringify(p)}`);
}

function fourPadding(op: string, p: Conv2dOptions['padding']): [number, number, number, number] {
  let r: readonly number[];
  if (p === undefined) r = [0, 0, 0, 0];
  else if (typeof p === 'number') r = [p, p, p, p];
  else if (p.length === 2) r = [p[0], p[0], p[1], p[1]];
  else if (p.length === 4) r = p;
  else throw new Error(`cflens: ${op}: padding must be a number, [h, w] or [top, bottom, left, right], got ${JSON.stringify(p)}`);
  if (!r.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`cflens: ${op}: padding must be non-negative integers, got ${JSON.stringify(p)}`);
  return [r[0], r[1], r[2], r[3]];
}

function expect4d(op: string, x: Tensor, w: Tensor): void {
  if (x.ndim !== 4 || w.ndim !== 4) {
    throw new Error(`cflens: ${op}: input ${shapeStr(x.shape)} and weight ${shapeStr(w.shape)} must both be 4-D (NCHW input, [out, in/groups, kh, kw] weight)`);
  }
}

function checkBias(op: string, b: Tensor | null | undefined, channels: number, x: Tensor, w: Tensor): void {
  if (!b) return;
  if (b.ndim !== 1 || b.shape[0] !== channels) {
    throw new Error(`cflens: ${op}: bias ${shapeStr(b.shape)} must be [${channels}] for input ${shapeStr(x.shape)} and weight ${shapeStr(w.shape)}`);
  }
}

/** Validates conv2d arguments and returns its geometry; errors name the op and the shapes. */
export function conv2dGeom(xs: readonly number[], ws: readonly number[], opts: Conv2dOptions = {}): ConvGeom {
  const op = 'conv2d';
  const [B, C, H, W] = xs;
  const [Co, Cg, KH, KW] = ws;
  const G = opts.groups ?? 1;
  const shapes = `input ${shapeStr(xs)} and weight ${shapeStr(ws)}`;
  if (!Number.isInteger(G) || G < 1) throw new Error(`cflens: ${op}: groups must be a positive integer, got ${G}`);
  if (C % G !== 0) throw new Error(`cflens: ${op}: ${shapes}: groups ${G} does not divide the ${C} input channels`);
  if (Co % G !== 0) throw new Error(`cflens: ${op}: ${shapes}: groups ${G} does not divide the ${Co} output channels`);
  if (Cg * G !== C) throw new Error(`cflens: ${op}: ${shapes}: the input has ${C} channels but the weight expects ${Cg * G} (${Cg} per group × groups ${G})`);
  const [sh, sw] = pairOf(op, 'stride', opts.stride, 1);
  const [dh, dw] = pairOf(op, 'dilation', opts.dilation, 1);
  positive(op, 'stride', [sh, sw]);
  positive(op, 'dilation', [dh, dw]);
  const [pt, pb, pl, pr] = fourPadding(op, opts.padding);
  const OH = Math.floor((H + pt + pb - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + pl + pr - dw * (KW - 1) - 1) / sw) + 1;
  if (OH <= 0 || OW <= 0 || KH < 1 || KW < 1) {
    throw new Error(`cflens: ${op}: ${shapes}: the output would be ${OH}x${OW} (kernel larger than the padded input)`);
  }
  return { B, C, H, W, Co, OH, OW, G, KH, KW, sh, sw, dh, dw, pt, pl };
}

/** Geometry of conv_transpose2d as the input-gradient of a conv2d from its output back to its input. */
export function convTranspose2dGeom(xs: readonly number[], ws: readonly number[], opts: ConvTranspose2dOptions = {}): ConvGeom {
  const op = 'convTranspose2d';
  const [B, Cin, Hin, Win] = xs;
  const [Cw, Cog, KH, KW] = ws;
  const G = opts.groups ?? 1;
  const shapes = `input ${shapeStr(xs)} and weight ${shapeStr(ws)}`;
  if (!Number.isInteger(G) || G < 1) throw new Error(`cflens: ${op}: groups must be a positive integer, got ${G}`);
  if (Cw !== Cin) {
    throw new Error(`cflens: ${op}: ${shapes}: the input has ${Cin} channels but the weight's first axis is ${Cw} (weight is [in, out/groups, kh, kw])`);
  }
  if (Cin % G !== 0) throw new Error(`cflens: ${op}: ${shapes}: groups ${G} does not divide the ${Cin} input channels`);
  const [sh, sw] = pairOf(op, 'stride', opts.stride, 1);
  const [dh, dw] = pairOf(op, 'dilation', opts.dilation, 1);
  const [ph, pw] = pairOf(op, 'padding', opts.padding, 0);
  const [oph, opw] = pairOf(op, 'outputPadding', opts.outputPadding, 0);
  positive(op, 'stride', [sh, sw]);
  positive(op, 'dilation', [dh, dw]);
  if (ph < 0 || pw < 0 || oph < 0 || opw < 0) throw new Error(`cflens: ${op}: padding and outputPadding must be non-negative`);
  if ((oph >= sh && oph >= dh) || (opw >= sw && opw >= dw)) {
    throw new Error(
      `cflens: ${op}: outputPadding ${JSON.stringify([oph, opw])} must be smaller than either stride ${JSON.stringify([sh, sw])} ` +
      `or dilation ${JSON.stringify([dh, dw])}`,
    );
  }
  const H = (Hin - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1;
  const W = (Win - 1) * sw - 2 * pw + dw * (KW - 1) + opw + 1;
  if (H <= 0 || W <= 0) throw new Error(`cflens: ${op}: ${shapes}: the output would be ${H}x${W}`);
  // In conv2d terms: the transposed conv's output is "x" (C = Cog·G channels), its input is "y".
  return { B, C: Cog * G, H, W, Co: Cin, OH: Hin, OW: Win, G, KH, KW, sh, sw, dh, dw, pt: ph, pl: pw };
}

// ---------------------------------------------------------------------------------------------
// Kernels (no tape).

type Mode = 0 | 1 | 2;
/**
 * 'gemm': conv_gemm (workgroup-memory tiles); 'regs': conv_regs where the mode has it, else gemm;
 * 'rows': conv_rows where the geometry allows (see rowsFit), else as 'regs'; 'matmul': pointwise
 * convolutions on the matmul kernel (see pointwise), others as 'auto'. CPU adapters default to 'matmul'
 * for pointwise convolutions and 'rows' for the rest.
 */
export type ConvAlgo = 'auto' | 'gemm' | 'direct' | 'regs' | 'rows' | 'matmul';

declare module '../gpu/flags.js' {
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

function gemmSizes(g: ConvGeom, mode: Mode): { M: number; N: number; K: number } {
  const T = g.KH * g.KW;
  const Cg = g.C / g.G;
  const Mg = g.Co / g.G;
  if (mode === 0) return { M: Mg, N: g.B * g.OH * g.OW, K: Cg * T };
  if (mode === 1) return { M: Cg, N: g.B * g.H * g.W, K: Mg * T };
  return { M: Mg, N: Cg * T, K: g.B * g.OH * g.OW };
}

function useGemm(ctx: GpuContext, g: ConvGeom, mode: Mode): boolean {
  const algo = ctx.flags.get('conv.algo');
  if (algo !== 'auto' && algo !== 'matmul') return algo !== 'direct';
  const { M, N, K } = gemmSizes(g, mode);
  return M >= 8 && N >= 32 && K >= 8;
}

/** Kernel size, stride and dilation: parameters of conv_gemm and conv_direct, not compiled in. */
function kernelGeomMeta(g: ConvGeom): number[] {
  return [g.KH, g.KW, g.sh, g.sw, g.dh, g.dw];
}

function baseMeta(g: ConvGeom): number[] {
  return [g.B, g.C, g.H, g.W, g.Co, g.OH, g.OW, g.G, g.C / g.G, g.Co / g.G, g.pt, g.pl];
}

/** Bound where the bias is absent. */
const dummy = (ctx: GpuContext): GPUBuffer => ctx.constantBuffer('placeholder', 16);

/** Work-groups to aim for: split K when the output tiles alone would leave a big GPU idle. */
const TARGET_WORKGROUPS = 256;
const MIN_TILES_PER_SPLIT = 16;

/** The regs kernel serves the table modes; CPU adapters use it unless another algorithm is forced. */
/** Whether the CPU adapters' choices apply: 'auto' (or 'matmul', which is 'auto' beyond pointwise convolutions) on a regs-matmul adapter. */
function cpuDefaults(ctx: GpuContext): boolean {
  const algo = ctx.flags.get('conv.algo');
  return (algo === 'auto' || algo === 'matmul') && matmulKernelFor(ctx) === 'regs';
}

function useRegs(ctx: GpuContext, g: ConvGeom, mode: Mode): boolean {
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

/** Pointwise forward (mode 0: y[b] = W·x[b]), input gradient (1: dx[b] = Wᵀ·dy[b]) or weight gradient (2: Σ_b dy[b]·x[b]ᵀ). */
function runPointwise(ctx: GpuContext, g: ConvGeom, mode: Mode, a: GPUBuffer, b: GPUBuffer, out: Tensor): void {
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
  launch(ctx, shader('conv_reduce'), [part.buffer, out.buffer], [out.size, slices], grid1D(out.size, 256));
  part.dispose();
}

/** Adds the bias [channels] to an NCHW tensor in place. */
function addBias(ctx: GpuContext, out: Tensor, bias: GPUBuffer, channels: number, pixels: number): void {
  launch(ctx, shader('conv_bias_add'), [bias, out.buffer], [out.size, channels, pixels], grid1D(out.size, 64));
}

/**
 * Whether the row kernels (conv_rows.wgsl, conv_rows_wgrad.wgsl) serve this forward (mode 0), input
 * gradient (mode 1) or weight gradient (mode 2):
 * subgroups of a fixed size ≥ 4, unit stride and dilation along the width, an output as wide as its
 * source and a multiple of 4, at most 4 kernel columns each shifting by at most 4 pixels.
 */
function rowsFit(ctx: GpuContext, g: ConvGeom, mode: Mode): boolean {
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

/** The row kernel: weights repacked (conv_pack.wgsl), then one pass over (source channel, kernel row). */
function runRows(ctx: GpuContext, g: ConvGeom, mode: 0 | 1, w: GPUBuffer, src: GPUBuffer, bias: GPUBuffer | null, out: Tensor): void {
  const { M, N, K } = gemmSizes(g, mode);
  const SG = subgroupLanes(ctx);
  const TM = M <= 4 ? 4 : 16;
  const Cs = mode === 0 ? g.C / g.G : g.Co / g.G;
  const packed = Tensor.empty([g.G * Cs * g.KH * M * 4], 'f32', ctx);
  const count = g.G * Cs * g.KH * M;
  launch(ctx, shader('conv_pack'), [w, packed.buffer], [g.G, Cs, g.KH, g.KW, M, g.Co / g.G, g.C / g.G, mode], grid1D(count, 64));
  const code = convRowsShader({ MODE: mode, SH: g.sh, DH: g.dh, KH: g.KH, KW: g.KW, pl: g.pl, TM, SG });
  const meta = [...baseMeta(g), M, N, K, bias ? 1 : 0];
  launch(ctx, code, [packed.buffer, src, bias ?? dummy(ctx), out.buffer], meta, [Math.ceil(N / (4 * SG)), Math.ceil(M / TM), g.G]);
  packed.dispose();
}

function runRegs(ctx: GpuContext, g: ConvGeom, mode: Mode, a: GPUBuffer, b: GPUBuffer, bias: GPUBuffer | null, out: Tensor): void {
  const { M, N, K } = gemmSizes(g, mode);
  const SG = subgroupLanes(ctx);
  const WG = SG || 8;
  const TM = M <= 4 ? 4 : 16;
  const code = convRegsShader({ MODE: mode as 0 | 1, TM, SG, WG, vecA: K % 4 === 0 });
  const meta = [...baseMeta(g), M, N, K, bias ? 1 : 0, g.sh, g.sw];
  launch(ctx, code, [a, b, bias ?? dummy(ctx), kTable(ctx, g, mode, K)!, out.buffer], meta, [Math.ceil(N / (4 * WG)), Math.ceil(M / TM), g.G]);
}

/** Weight gradient with the regs kernel, split over K so that enough workgroups run. */
function runRegsWgrad(ctx: GpuContext, g: ConvGeom, dy: GPUBuffer, x: GPUBuffer, out: Tensor): void {
  const { M, N, K } = gemmSizes(g, 2);
  const SG = subgroupLanes(ctx);
  const WG = SG || 8;
  const TM = M <= 4 ? 4 : 16;
  const rows = rowsFit(ctx, g, 2);
  // Lanes own 4 columns n (regs) or the KW columns of one (input channel, kernel row) (rows).
  const gx = rows ? Math.ceil(((g.C / g.G) * g.KH) / WG) : Math.ceil(N / (4 * WG));
  const gy = Math.ceil(M / TM);
  const tiles = gx * gy * g.G;
  let splits = ctx.flags.get('conv.splitK') ?? Math.max(1, Math.min(Math.ceil(REGS_WORKGROUPS / tiles), Math.floor(K / 256)));
  while (splits > 1 && splits * out.size * 4 > ctx.maxBinding) splits--;
  const per = Math.ceil(K / Math.max(1, splits) / 4) * 4;
  splits = Math.ceil(K / per);
  const code = rows
    ? convRowsWgradShader({ SH: g.sh, DH: g.dh, KH: g.KH, KW: g.KW, pl: g.pl, TM, SG })
    : convRegsWgradShader({ TM, SG, WG, vecA: (g.OH * g.OW) % 4 === 0, row4: g.OW % 4 === 0 });
  const meta = [...baseMeta(g), M, N, K, per, out.size, ...kernelGeomMeta(g)];
  if (splits === 1) {
    launch(ctx, code, [dy, x, out.buffer], meta, [gx, gy, g.G]);
    return;
  }
  const part = Tensor.empty([splits * out.size], 'f32', ctx);
  launch(ctx, code, [dy, x, part.buffer], meta, [gx, gy, g.G * splits]);
  sumSlices(ctx, part, out, splits);
}
/** Workgroups the regs weight gradient aims for (CPU adapters run a few per core). */
const REGS_WORKGROUPS = 32;

function runGemm(ctx: GpuContext, g: ConvGeom, mode: Mode, a: GPUBuffer, b: GPUBuffer, bias: GPUBuffer | null, out: Tensor): void {
  if (useRegs(ctx, g, mode)) {
    if (mode === 2) return runRegsWgrad(ctx, g, a, b, out);
    return runRegs(ctx, g, mode, a, b, bias, out);
  }
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
  splits = Math.max(1, Math.min(splits, kTiles));
  while (splits > 1 && splits * out.size * 4 > ctx.maxBinding) splits--;
  const perSplit = Math.ceil(kTiles / splits);
  splits = Math.ceil(kTiles / perSplit);
  const code = gemmCode({ MODE: mode, TABLE: String(usesTable(g, mode)), ...tile });
  const meta = [...baseMeta(g), M, N, K, bias ? 1 : 0, perSplit, out.size, ...kernelGeomMeta(g)];
  const table = kTable(ctx, g, mode, K) ?? dummy(ctx);
  if (splits === 1) {
    launch(ctx, code, [a, b, bias ?? dummy(ctx), table, out.buffer], meta, [gx, gy, g.G]);
    return;
  }
  const part = Tensor.empty([splits * out.size], 'f32', ctx);
  launch(ctx, code, [a, b, bias ?? dummy(ctx), table, part.buffer], meta, [gx, gy, g.G * splits]);
  sumSlices(ctx, part, out, splits);
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
    return unrollLoops(shader('conv_gemm', fill), consts);
  });
}

const TABLE_PAD = 64; // entries past K, for any BK up to 64

/**
 * The K decoding table of MODE 0 and of MODE 1 at stride 1: for k = (c, kh, kw), the offset of the B
 * element from the thread's column base, and its row and column shifts (for the bounds test). Padded
 * entries fail the bounds test. Cached per geometry.
 */
function usesTable(g: ConvGeom, mode: Mode): boolean {
  return mode === 0 || (mode === 1 && g.sh === 1 && g.sw === 1);
}

function kTable(ctx: GpuContext, g: ConvGeom, mode: Mode, K: number): GPUBuffer | null {
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

function runDirect(ctx: GpuContext, g: ConvGeom, mode: Mode, a: GPUBuffer, b: GPUBuffer, bias: GPUBuffer | null, out: Tensor): void {
  const code = shader('conv_direct', { MODE: mode });
  const count = out.size;
  const grid = mode === 2 ? grid1D(count, 1) : grid1D(count, 64);
  launch(ctx, code, [a, b, bias ?? dummy(ctx), out.buffer], [...baseMeta(g), count, bias ? 1 : 0, 0, ...kernelGeomMeta(g)], grid);
}

/** y = conv2d(x, w) + b. */
export function convForwardKernel(x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeom): Tensor {
  const y = Tensor.empty([g.B, g.Co, g.OH, g.OW], 'f32', x.ctx);
  if (!y.size) return y;
  if (pointwise(x.ctx, g)) {
    runPointwise(x.ctx, g, 0, w.buffer, x.buffer, y);
    if (b) addBias(x.ctx, y, b.buffer, g.Co, g.OH * g.OW);
  } else if (rowsFit(x.ctx, g, 0)) runRows(x.ctx, g, 0, w.buffer, x.buffer, b?.buffer ?? null, y);
  else if (useGemm(x.ctx, g, 0)) runGemm(x.ctx, g, 0, w.buffer, x.buffer, b?.buffer ?? null, y);
  else runDirect(x.ctx, g, 0, x.buffer, w.buffer, b?.buffer ?? null, y);
  return y;
}

/** dx = (d conv2d / dx)ᵀ dy (+ b): the input gradient, which is also conv_transpose2d(dy, w) + b. */
export function convBackwardDataKernel(dy: Tensor, w: Tensor, b: Tensor | null, g: ConvGeom): Tensor {
  const dx = Tensor.empty([g.B, g.C, g.H, g.W], 'f32', dy.ctx);
  if (!dx.size) return dx;
  if (pointwise(dy.ctx, g)) {
    runPointwise(dy.ctx, g, 1, w.buffer, dy.buffer, dx);
    if (b) addBias(dy.ctx, dx, b.buffer, g.C, g.H * g.W);
    return dx;
  }
  if (rowsFit(dy.ctx, g, 1)) {
    runRows(dy.ctx, g, 1, w.buffer, dy.buffer, b?.buffer ?? null, dx);
    return dx;
  }
  if (!useGemm(dy.ctx, g, 1)) {
    runDirect(dy.ctx, g, 1, dy.buffer, w.buffer, b?.buffer ?? null, dx);
    return dx;
  }
  // A = w as [G, Cg, Mg, T] so each row (one input channel) is contiguous over (co, kh, kw).
  const T = g.KH * g.KW;
  const Cg = g.C / g.G;
  const Mg = g.Co / g.G;
  const wt = Tensor.empty([g.G, Cg, Mg, T], 'f32', w.ctx);
  const ws = contiguousStrides([g.G, Mg, Cg, T]);
  stridedCopy(w, { offset: 0, strides: [ws[0], ws[2], ws[1], ws[3]] }, wt, { offset: 0, strides: contiguousStrides(wt.shape) }, wt.shape);
  runGemm(dy.ctx, g, 1, wt.buffer, dy.buffer, b?.buffer ?? null, dx);
  wt.dispose();
  return dx;
}

/** dw = Σ_{b, oh, ow} dy · im2col(x): the weight gradient. */
export function convBackwardWeightKernel(x: Tensor, dy: Tensor, g: ConvGeom): Tensor {
  const dw = Tensor.empty([g.Co, g.C / g.G, g.KH, g.KW], 'f32', x.ctx);
  if (!dw.size) return dw;
  if (g.B * g.OH * g.OW === 0) {
    fillBuffer(x.ctx, dw.buffer, dw.size, 0);
    return dw;
  }
  if (pointwise(x.ctx, g)) runPointwise(x.ctx, g, 2, dy.buffer, x.buffer, dw);
  else if (useGemm(x.ctx, g, 2)) runGemm(x.ctx, g, 2, dy.buffer, x.buffer, null, dw);
  else runDirect(x.ctx, g, 2, x.buffer, dy.buffer, null, dw);
  return dw;
}

// ---------------------------------------------------------------------------------------------
// Differentiable ops. The three kernels are each other's vjps (all bilinear), so gradients of any
// order are again convolutions:
//   y  = F(x, w):    x̄ = D(ȳ, w),  w̄ = Wg(x, ȳ)
//   dx = D(dy, w):   dȳ = F(d̄x, w), w̄ = Wg(d̄x, dy)
//   dw = Wg(x, dy):  x̄ = D(dy, d̄w), dȳ = F(x, d̄w)

function biasGrad(b: Tensor | null, g: Tensor): Tensor | null {
  return b && b.requiresGrad ? sum(g, [0, 2, 3]) : null;
}

function convForward(x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeom): Tensor {
  const y = convForwardKernel(x, w, b, g);
  const inputs = b ? [x, w, b] : [x, w];
  return record('conv2d', inputs, y, (gy) => [
    x.requiresGrad ? convBackwardData(gy, w, null, g) : null,
    w.requiresGrad ? convBackwardWeight(x, gy, g) : null,
    biasGrad(b, gy),
  ]);
}

function convBackwardData(dy: Tensor, w: Tensor, b: Tensor | null, g: ConvGeom): Tensor {
  const dx = convBackwardDataKernel(dy, w, b, g);
  const inputs = b ? [dy, w, b] : [dy, w];
  return record('conv2dBackwardData', inputs, dx, (gx) => [
    dy.requiresGrad ? convForward(gx, w, null, g) : null,
    w.requiresGrad ? convBackwardWeight(gx, dy, g) : null,
    biasGrad(b, gx),
  ]);
}

function convBackwardWeight(x: Tensor, dy: Tensor, g: ConvGeom): Tensor {
  const dw = convBackwardWeightKernel(x, dy, g);
  return record('conv2dBackwardWeight', [x, dy], dw, (gw) => [
    x.requiresGrad ? convBackwardData(dy, gw, null, g) : null,
    dy.requiresGrad ? convForward(x, gw, null, g) : null,
  ]);
}

/** F.conv2d: cross-correlation of NCHW `x` with `w` [Co, C/groups, KH, KW], plus optional bias [Co]. */
export function conv2d(x: Tensor, w: Tensor, b?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  assertFloat(op, x, w, ...(b ? [b] : []));
  sameCtx(op, x, w, ...(b ? [b] : []));
  expect4d(op, x, w);
  const g = conv2dGeom(x.shape, w.shape, opts);
  checkBias(op, b, g.Co, x, w);
  return convForward(x, w, b ?? null, g);
}

/** F.conv_transpose2d: NCHW `x` with `w` [C_in, C_out/groups, KH, KW], plus optional bias [C_out]. */
export function convTranspose2d(x: Tensor, w: Tensor, b?: Tensor | null, opts: ConvTranspose2dOptions = {}): Tensor {
  const op = 'convTranspose2d';
  assertFloat(op, x, w, ...(b ? [b] : []));
  sameCtx(op, x, w, ...(b ? [b] : []));
  expect4d(op, x, w);
  const g = convTranspose2dGeom(x.shape, w.shape, opts);
  checkBias(op, b, g.C, x, w);
  return convBackwardData(x, w, b ?? null, g);
}

/** FLOPs (multiply-adds × 2) of one conv2d forward, for benchmarks. */
export function conv2dFlops(g: ConvGeom): number {
  return 2 * g.B * g.Co * g.OH * g.OW * (g.C / g.G) * g.KH * g.KW;
}

/**
 * torch.nn.grad.conv2d_input: the gradient of conv2d(x, w, opts) with respect to an input of shape
 * `xShape`, given the output gradient `dy`. Differentiable in dy and w.
 */
export function conv2dInputGrad(xShape: readonly number[], w: Tensor, dy: Tensor, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2dInputGrad';
  assertFloat(op, w, dy);
  sameCtx(op, w, dy);
  if (xShape.length !== 4) throw new Error(`cflens: ${op}: input shape ${shapeStr(xShape)} must be 4-D`);
  const g = conv2dGeom(xShape, w.shape, opts);
  checkOutGrad(op, dy, g);
  return convBackwardData(dy, w, null, g);
}

/**
 * torch.nn.grad.conv2d_weight: the gradient of conv2d(x, w, opts) with respect to a weight of shape
 * `wShape`, given the output gradient `dy`. Differentiable in x and dy.
 */
export function conv2dWeightGrad(x: Tensor, wShape: readonly number[], dy: Tensor, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2dWeightGrad';
  assertFloat(op, x, dy);
  sameCtx(op, x, dy);
  if (x.ndim !== 4 || wShape.length !== 4) throw new Error(`cflens: ${op}: input ${shapeStr(x.shape)} and weight shape ${shapeStr(wShape)} must be 4-D`);
  const g = conv2dGeom(x.shape, wShape, opts);
  checkOutGrad(op, dy, g);
  return convBackwardWeight(x, dy, g);
}

function checkOutGrad(op: string, dy: Tensor, g: ConvGeom): void {
  const want = [g.B, g.Co, g.OH, g.OW];
  if (dy.ndim !== 4 || dy.shape.some((d, i) => d !== want[i])) {
    throw new Error(`cflens: ${op}: output gradient ${shapeStr(dy.shape)} must be ${shapeStr(want)} for this convolution`);
  }
}
