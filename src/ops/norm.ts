import { noGrad } from '../autograd/grad-mode.js';
import { defineFlag } from '../gpu/flags.js';
import { fusedOrComposed, record } from '../autograd/record.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import type { GpuContext } from '../gpu/index.js';
import { add, mul, rsqrt, sub } from './elementwise.js';
import { mean, sum } from './reduce.js';
import { narrow, reshape } from './shape.js';
import { assertFloat, f32bits, grid1D, launch, sameCtx, shader } from './util.js';

// GroupNorm, LayerNorm and BatchNorm (training) share fused kernels (shaders/norm_*.wgsl): a
// normalisation is a set of rows (the elements that share statistics) plus an affine parameter index
// per element. Forward: one kernel computes Welford statistics and writes y; for few, long rows (a
// GroupNorm over 64×64 maps) each row is split over several workgroups (partials, then apply).
// Backward: one fused kernel for dx, and a reduction kernel for dweight/dbias.
//
// Higher-order gradients: the fused backward kernels are used when the backward pass is not itself
// recorded. Under createGraph the vjp is built from differentiable ops instead (the same formulas,
// statistics recomputed from x), so double backward works; the forward stays fused either way.

declare module '../gpu/flags.js' {
  interface FlagValues {
    'norm.splitRowsBelow': number;
    'norm.minChunk': number;
    'norm.maxChunks': number;
    'norm.targetWorkgroups': number;
    'norm.rowWorkgroup': number;
    'norm.rowKernel': 'auto' | 'thread' | 'workgroup';
    'norm.cpuThreadRows': number;
    'norm.cpuThreadRowMax': number;
    'norm.paramThreads': number;
  }
}
defineFlag({ name: 'norm.splitRowsBelow', default: 256, doc: 'norms: fewer rows than this are split across several workgroups each (when long enough)' });
defineFlag({ name: 'norm.minChunk', default: 2048, doc: 'norms: fewest elements per chunk of a split row' });
defineFlag({ name: 'norm.maxChunks', default: 64, doc: 'norms: most chunks per split row (at most 256, the split kernel\'s workgroup size)' });
defineFlag({ name: 'norm.targetWorkgroups', default: 1024, doc: 'norms: workgroups to aim for when splitting rows' });
defineFlag({ name: 'norm.rowWorkgroup', default: 0, doc: 'norms: threads per workgroup of the row kernel (0: 64 for rows under 1024 elements, else 256)' });
// On lavapipe a thread per row beats a workgroup per row, which beats split rows (bench/norm.ts; figures in
// docs/engine.md).
defineFlag({
  name: 'norm.rowKernel', default: 'auto',
  doc: "norms' unsplit rows: 'workgroup' (a tree per row), 'thread' (a thread per row) or 'auto' (on CPU adapters: never split, a thread per row as below)",
});
defineFlag({
  name: 'norm.cpuThreadRows', default: 16,
  doc: "norms, 'auto' on CPU adapters: a thread per row when there are at least this many rows (each at most norm.cpuThreadRowMax long)",
});
defineFlag({ name: 'norm.cpuThreadRowMax', default: 16384, doc: "norms, 'auto' on CPU adapters: the longest row run by a thread per row" });
defineFlag({ name: 'norm.paramThreads', default: 65536, doc: 'norms: threads to aim for in the parameter-gradient partials of short segments' });

function rowWG(ctx: GpuContext, count: number): number {
  return ctx.flags.get('norm.rowWorkgroup') || (count >= 1024 ? 256 : 64);
}

/** A thread per row: forced, or on CPU adapters with rows enough to fill two workgroups. */
function threadPerRow(L: NormLayout, ctx: GpuContext): boolean {
  const f = ctx.flags;
  const kind = f.get('norm.rowKernel');
  return kind === 'thread' || (kind === 'auto' && ctx.caps.isCpu && L.rows >= f.get('norm.cpuThreadRows') && L.count <= f.get('norm.cpuThreadRowMax'));
}

/** Launches norm_row: a thread per row or a workgroup per row. */
function launchRows(L: NormLayout, ctx: GpuContext, MODE: number, buffers: GPUBuffer[], meta: number[]): void {
  const code = shader('norm_row', { WG: rowWG(ctx, L.count), MODE, SEG: L.seg });
  if (threadPerRow(L, ctx)) launch(ctx, code, buffers, meta, grid1D(L.rows, 64), undefined, 'per_row');
  else launch(ctx, code, buffers, meta, grid1D(L.rows, 1));
}

/** How a normalisation sees its input; see shaders/norm_row.wgsl. */
interface NormLayout {
  op: string;
  rows: number;
  count: number;
  rowStride: number;
  segLen: number;
  segStride: number;
  seg: 0 | 1;
  /** Elements per affine parameter, and the number of parameters (x viewed as [A, P, S]). */
  S: number;
  P: number;
  A: number;
  /** The row of an element address: (addr / rowDiv) % rowMod. */
  rowDiv: number;
  rowMod: number;
  eps: number;
  /** Composed (createGraph) path: statistics over `statAxes` of x viewed as `statShape`; parameters
   *  broadcast as `paramView` over x viewed as `paramShape`, their gradients summed over `paramAxes`. */
  statShape: number[];
  statAxes: number[];
  paramShape: number[];
  paramView: number[];
  paramAxes: number[];
}

function chunksFor(ctx: GpuContext, rows: number, count: number): number {
  const f = ctx.flags;
  if (rows >= f.get('norm.splitRowsBelow')) return 1;
  const k = Math.min(f.get('norm.maxChunks'), 256, Math.ceil(f.get('norm.targetWorkgroups') / rows), Math.floor(count / f.get('norm.minChunk')));
  return Math.max(1, k);
}

function baseMeta(L: NormLayout, flags: number): number[] {
  return [L.rows, L.count, L.rowStride, L.segLen, L.segStride, L.S, Math.max(L.P, 1), flags, f32bits(L.eps)];
}

/** Split geometry: [chunks, chunkLen] with no empty chunk. */
function split(L: NormLayout, ctx: GpuContext): [number, number] {
  const cpuAuto = ctx.caps.isCpu && ctx.flags.get('norm.rowKernel') === 'auto';
  const want = cpuAuto || threadPerRow(L, ctx) ? 1 : chunksFor(ctx, L.rows, L.count);
  if (want <= 1) return [1, L.count];
  const len = Math.ceil(L.count / want);
  return [Math.ceil(L.count / len), len];
}

/** Raw forward kernel (no tape): y and per-row statistics [rows, 2] = (mean, biased variance). */
function normForwardKernel(L: NormLayout, x: Tensor, w: Tensor | null, b: Tensor | null): { y: Tensor; stats: Tensor } {
  const y = Tensor.empty(x.shape, 'f32', x.ctx);
  const stats = Tensor.empty([L.rows, 2], 'f32', x.ctx);
  if (L.rows === 0 || L.count === 0) return { y, stats };
  const meta = baseMeta(L, (w ? 1 : 0) | (b ? 2 : 0));
  const [chunks, chunkLen] = split(L, x.ctx);
  const wb = (w ?? x).buffer;
  const bb = (b ?? x).buffer;
  if (chunks === 1) {
    launchRows(L, x.ctx, 0, [x.buffer, wb, bb, stats.buffer, y.buffer], meta);
  } else {
    const part = Tensor.empty([L.rows * chunks * 3], 'f32', x.ctx);
    const m = [...meta, chunks, chunkLen];
    launch(x.ctx, shader('norm_split', { MODE: 0, SEG: L.seg }), [x.buffer, x.buffer, x.buffer, stats.buffer, part.buffer, y.buffer], m, [chunks, L.rows]);
    launch(x.ctx, shader('norm_split', { MODE: 1, SEG: L.seg }), [x.buffer, wb, bb, stats.buffer, part.buffer, y.buffer], m, [chunks, L.rows]);
    part.dispose();
  }
  return { y, stats };
}

/** Raw backward kernel for dx (no tape). */
function normInputGradKernel(L: NormLayout, x: Tensor, w: Tensor | null, g: Tensor, stats: Tensor): Tensor {
  const dx = Tensor.empty(x.shape, 'f32', x.ctx);
  if (L.rows === 0 || L.count === 0) return dx;
  const meta = baseMeta(L, w ? 1 : 0);
  const [chunks, chunkLen] = split(L, x.ctx);
  const wb = (w ?? x).buffer;
  if (chunks === 1) {
    launchRows(L, x.ctx, 1, [x.buffer, wb, g.buffer, stats.buffer, dx.buffer], meta);
  } else {
    const part = Tensor.empty([L.rows * chunks * 3], 'f32', x.ctx);
    const m = [...meta, chunks, chunkLen];
    for (const MODE of [2, 3]) {
      launch(x.ctx, shader('norm_split', { MODE, SEG: L.seg }), [x.buffer, wb, g.buffer, stats.buffer, part.buffer, dx.buffer], m, [chunks, L.rows]);
    }
    part.dispose();
  }
  return dx;
}

/** Raw kernels for the affine parameters' gradients (no tape): dw = Σ g·x̂, db = Σ g, each [P]. */
function normParamGradKernel(L: NormLayout, x: Tensor, g: Tensor, stats: Tensor): [Tensor, Tensor] {
  const { A, P, S } = L;
  const dw = Tensor.empty([P], 'f32', x.ctx);
  const db = Tensor.empty([P], 'f32', x.ctx);
  if (P === 0) return [dw, db];
  const common = [A, P, S, L.rowDiv, L.rowMod, f32bits(L.eps)];
  let part: Tensor;
  let K: number;
  let S2: number;
  if (S >= 32 || A * P * S === 0) {
    K = A;
    S2 = 1;
    part = Tensor.empty([2 * A * P], 'f32', x.ctx);
    if (A * P) launch(x.ctx, shader('norm_param', { MODE: 0 }), [x.buffer, g.buffer, stats.buffer, part.buffer], [...common, 0, 0], grid1D(A * P, 1));
  } else {
    const Q = P * S;
    const chunkA = Math.ceil(A / Math.min(A, Math.max(1, Math.ceil(x.ctx.flags.get('norm.paramThreads') / Q))));
    K = Math.ceil(A / chunkA);
    S2 = S;
    part = Tensor.empty([2 * K * Q], 'f32', x.ctx);
    launch(x.ctx, shader('norm_param', { MODE: 1 }), [x.buffer, g.buffer, stats.buffer, part.buffer], [...common, K, chunkA], grid1D(K * Q, 64));
  }
  launch(x.ctx, shader('norm_param_final'), [part.buffer, dw.buffer, db.buffer], [P, K, S2], grid1D(P, 1));
  part.dispose();
  return [dw, db];
}

/** The vjp from differentiable ops (used when the backward pass is recorded). */
function composedVjp(L: NormLayout, x: Tensor, w: Tensor | null, b: Tensor | null, g: Tensor): Array<Tensor | null> {
  const xs = reshape(x, L.statShape);
  const xc = sub(xs, mean(xs, L.statAxes, true));
  const rstd = rsqrt(add(mean(mul(xc, xc), L.statAxes, true), L.eps));
  const xhatS = mul(xc, rstd);
  const gp = reshape(g, L.paramShape);
  const gy = reshape(w ? mul(gp, reshape(w, L.paramView)) : gp, L.statShape);
  let dx: Tensor | null = null;
  if (x.requiresGrad) {
    const m1 = mean(gy, L.statAxes, true);
    const m2 = mean(mul(gy, xhatS), L.statAxes, true);
    dx = reshape(mul(rstd, sub(sub(gy, m1), mul(xhatS, m2))), x.shape);
  }
  const dw = w?.requiresGrad ? reshape(sum(mul(gp, reshape(xhatS, L.paramShape)), L.paramAxes), w.shape) : null;
  const db = b?.requiresGrad ? reshape(sum(gp, L.paramAxes), b.shape) : null;
  return [dx, dw, db];
}

/** Runs the fused forward and records the op; `onStats` sees the statistics (BatchNorm's running update). */
function normOp(L: NormLayout, x: Tensor, w: Tensor | null, b: Tensor | null, onStats?: (stats: Tensor) => void): Tensor {
  const { y, stats } = normForwardKernel(L, x, w, b);
  if (onStats) onStats(stats);
  const inputs = [x, ...(w ? [w] : []), ...(b ? [b] : [])];
  const out = record(L.op, inputs, y, (g) => {
    const [dx, dw, db] = fusedOrComposed((): Array<Tensor | null> => {
      const dxk = x.requiresGrad ? normInputGradKernel(L, x, w, g, stats) : null;
      if (!w?.requiresGrad && !b?.requiresGrad) return [dxk, null, null];
      const [pw, pb] = normParamGradKernel(L, x, g, stats);
      const dwk = w?.requiresGrad ? reshape(pw, w.shape) : null;
      const dbk = b?.requiresGrad ? reshape(pb, b.shape) : null;
      pw.dispose();
      pb.dispose();
      return [dxk, dwk, dbk];
    }, () => composedVjp(L, x, w, b, g));
    return [dx, ...(w ? [dw] : []), ...(b ? [db] : [])];
  }, [stats]);
  stats.dispose();
  return out;
}

function checkParam(op: string, p: Tensor | null | undefined, shape: readonly number[], x: Tensor, name: string): Tensor | null {
  if (!p) return null;
  assertFloat(op, p);
  sameCtx(op, x, p);
  if (p.shape.join() !== shape.join()) throw new Error(`cflens: ${op}: ${name} ${shapeStr(p.shape)} must be ${shapeStr(shape)} for input ${shapeStr(x.shape)}`);
  return p;
}

/**
 * torch.nn.functional.group_norm on [N, C, *]: statistics per (sample, group of C/groups channels),
 * biased variance, affine per channel.
 */
export function groupNorm(x: Tensor, groups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const op = 'groupNorm';
  assertFloat(op, x);
  if (x.ndim < 2) throw new Error(`cflens: ${op}: input must be [N, C, ...], got ${shapeStr(x.shape)}`);
  const [N, C] = x.shape;
  if (!Number.isInteger(groups) || groups <= 0 || C % groups !== 0) {
    throw new Error(`cflens: ${op}: ${groups} groups must divide the ${C} channels of ${shapeStr(x.shape)}`);
  }
  const w = checkParam(op, weight, [C], x, 'weight');
  const b = checkParam(op, bias, [C], x, 'bias');
  const S = x.shape.slice(2).reduce((a, d) => a * d, 1);
  const count = (C / groups) * S;
  const rows = N * groups;
  return normOp({
    op, rows, count, rowStride: count, segLen: count, segStride: 0, seg: 0,
    S, P: w || b ? C : 0, A: N, rowDiv: Math.max(count, 1), rowMod: Math.max(rows, 1), eps,
    statShape: [N, groups, count], statAxes: [2], paramShape: [N, C, S], paramView: [1, C, 1], paramAxes: [0, 2],
  }, x, w, b);
}

/** torch.nn.functional.layer_norm over the trailing `normalizedShape` axes; weight/bias have that shape. */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const op = 'layerNorm';
  assertFloat(op, x);
  const k = normalizedShape.length;
  if (k > x.ndim || x.shape.slice(x.ndim - k).join() !== normalizedShape.join()) {
    throw new Error(`cflens: ${op}: normalized shape ${shapeStr(normalizedShape)} does not end the input shape ${shapeStr(x.shape)}`);
  }
  const w = checkParam(op, weight, normalizedShape, x, 'weight');
  const b = checkParam(op, bias, normalizedShape, x, 'bias');
  const inner = normalizedShape.reduce((a, d) => a * d, 1);
  const rows = inner === 0 ? 0 : x.size / inner;
  return normOp({
    op, rows, count: inner, rowStride: inner, segLen: inner, segStride: 0, seg: 0,
    S: 1, P: w || b ? inner : 0, A: rows, rowDiv: Math.max(inner, 1), rowMod: Math.max(rows, 1), eps,
    statShape: [rows, inner], statAxes: [1], paramShape: [rows, inner], paramView: [1, inner], paramAxes: [0],
  }, x, w, b);
}

export interface BatchNormOptions { training?: boolean; momentum?: number; eps?: number }

/**
 * torch.nn.functional.batch_norm on [N, C, *]. Inference normalises with the running statistics (an
 * affine map per channel, composed of differentiable ops). Training normalises with the batch
 * statistics (biased variance; fused kernels) and, when running statistics are given, updates them in
 * place as PyTorch: running = (1 − momentum)·running + momentum·batch, with the unbiased variance.
 */
export function batchNorm2d(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight?: Tensor | null,
  bias?: Tensor | null,
  { training = false, momentum = 0.1, eps = 1e-5 }: BatchNormOptions = {},
): Tensor {
  const op = 'batchNorm2d';
  assertFloat(op, x);
  if (x.ndim < 2) throw new Error(`cflens: ${op}: input must be [N, C, ...], got ${shapeStr(x.shape)}`);
  const [N, C] = x.shape;
  const w = checkParam(op, weight, [C], x, 'weight');
  const b = checkParam(op, bias, [C], x, 'bias');
  const rm = checkParam(op, runningMean, [C], x, 'running mean');
  const rv = checkParam(op, runningVar, [C], x, 'running variance');
  const S = x.shape.slice(2).reduce((a, d) => a * d, 1);
  const view = [1, C, ...x.shape.slice(2).map(() => 1)];
  if (!training) {
    if (!rm || !rv) throw new Error(`cflens: ${op}: inference needs running statistics (or training: true)`);
    // y = x·scale + shift, scale = w / sqrt(rv + eps), shift = b − rm·scale.
    const scale = w ? mul(w, rsqrt(add(rv, eps))) : rsqrt(add(rv, eps));
    const shift = b ? sub(b, mul(rm, scale)) : mul(mul(rm, scale), -1);
    const sv = reshape(scale, view);
    const hv = reshape(shift, view);
    const y = add(mul(x, sv), hv);
    for (const t of [scale, shift, sv, hv]) t.dispose();
    return y;
  }
  const count = N * S;
  if (count <= 1) throw new Error(`cflens: ${op}: training needs more than 1 value per channel, got input ${shapeStr(x.shape)}`);
  const update = (stats: Tensor) => {
    if (!rm && !rv) return;
    noGrad(() => {
      if (rm) {
        const m = narrow(stats, 1, 0, 1);
        blendInPlace(rm, m, momentum, 1);
        m.dispose();
      }
      if (rv) {
        const v = narrow(stats, 1, 1, 1);
        blendInPlace(rv, v, momentum, count / (count - 1));
        v.dispose();
      }
    });
  };
  return normOp({
    op, rows: C, count, rowStride: S, segLen: S, segStride: C * S, seg: 1,
    S, P: w || b ? C : 0, A: N, rowDiv: Math.max(S, 1), rowMod: Math.max(C, 1), eps,
    statShape: [N, C, S], statAxes: [0, 2], paramShape: [N, C, S], paramView: [1, C, 1], paramAxes: [0, 2],
  }, x, w, b, update);
}

/** running = (1 − momentum)·running + momentum·scale·batch, in place (buffers, never on the tape). */
function blendInPlace(running: Tensor, batch: Tensor, momentum: number, scale: number): void {
  const flat = reshape(batch, running.shape);
  const a = mul(running, 1 - momentum);
  const c = mul(flat, momentum * scale);
  const next = add(a, c);
  running.ctx.copyBuffer(next.buffer, 0, running.buffer, 0, running.size * 4);
  for (const t of [flat, a, c, next]) t.dispose();
}
