// The normalisation kernels (shaders/norm_row.wgsl, norm_split.wgsl, norm_param.wgsl,
// norm_param_final.wgsl): their tuning flags, the choice of a thread, a workgroup or several workgroups
// per row, and the launches. Raw, no tape; src/ops/norm.ts builds the layouts and the ops.
import { defineFlag } from '../../gpu/flags.js';
import type { GpuContext } from '../../gpu/context.js';
import { grid1D, launch } from '../../gpu/kernel.js';
import { defineParams, shader } from '../../gpu/wgsl.js';
import { Tensor } from '../../autograd/tensor.js';

declare module '../../gpu/flags.js' {
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
function launchRows(L: NormLayout, ctx: GpuContext, MODE: number, buffers: GPUBuffer[], meta: Uint32Array): void {
  const code = shader('norm_row', { WG: rowWG(ctx, L.count), MODE, SEG: L.seg }, NORM_PARAMS);
  if (threadPerRow(L, ctx)) launch(ctx, code, buffers, meta, grid1D(L.rows, 64), undefined, 'per_row');
  else launch(ctx, code, buffers, meta, grid1D(L.rows, 1));
}

/** How a normalisation sees its input; see shaders/norm_row.wgsl. */
export interface NormLayout {
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

/** norm_row.wgsl and norm_split.wgsl (chunks and chunkLen: the split kernels only). */
const NORM_PARAMS = defineParams('NormParams', {
  rows: 'u32', count: 'u32', rowStride: 'u32', segLen: 'u32', segStride: 'u32', S: 'u32', P: 'u32', flags: 'u32', eps: 'f32',
  chunks: 'u32', chunkLen: 'u32',
});
/** norm_param.wgsl: x as [A, P, S], rows (addr / rowDiv) % rowMod; K chunks of chunkA a's (MODE 1). */
const NORM_PARAM_PARAMS = defineParams('NormParamParams', {
  A: 'u32', P: 'u32', S: 'u32', rowDiv: 'u32', rowMod: 'u32', eps: 'f32', K: 'u32', chunkA: 'u32',
});
/** norm_param_final.wgsl: P parameters, K·S2 partials each. */
const NORM_PARAM_FINAL_PARAMS = defineParams('NormParamFinalParams', { P: 'u32', K: 'u32', S2: 'u32' });

function baseMeta(L: NormLayout, flags: number, chunks = 0, chunkLen = 0): Uint32Array {
  return NORM_PARAMS.pack({ ...L, P: Math.max(L.P, 1), flags, chunks, chunkLen });
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
export function normForwardKernel(L: NormLayout, x: Tensor, w: Tensor | null, b: Tensor | null): { y: Tensor; stats: Tensor } {
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
    const m = baseMeta(L, (w ? 1 : 0) | (b ? 2 : 0), chunks, chunkLen);
    const split0 = shader('norm_split', { MODE: 0, SEG: L.seg }, NORM_PARAMS);
    launch(x.ctx, split0, [x.buffer, x.buffer, x.buffer, stats.buffer, part.buffer, y.buffer], m, [chunks, L.rows]);
    launch(x.ctx, shader('norm_split', { MODE: 1, SEG: L.seg }, NORM_PARAMS), [x.buffer, wb, bb, stats.buffer, part.buffer, y.buffer], m, [chunks, L.rows]);
    part.dispose();
  }
  return { y, stats };
}

/** Raw backward kernel for dx (no tape). */
export function normInputGradKernel(L: NormLayout, x: Tensor, w: Tensor | null, g: Tensor, stats: Tensor): Tensor {
  const dx = Tensor.empty(x.shape, 'f32', x.ctx);
  if (L.rows === 0 || L.count === 0) return dx;
  const meta = baseMeta(L, w ? 1 : 0);
  const [chunks, chunkLen] = split(L, x.ctx);
  const wb = (w ?? x).buffer;
  if (chunks === 1) {
    launchRows(L, x.ctx, 1, [x.buffer, wb, g.buffer, stats.buffer, dx.buffer], meta);
  } else {
    const part = Tensor.empty([L.rows * chunks * 3], 'f32', x.ctx);
    const m = baseMeta(L, w ? 1 : 0, chunks, chunkLen);
    for (const MODE of [2, 3]) {
      const code = shader('norm_split', { MODE, SEG: L.seg }, NORM_PARAMS);
      launch(x.ctx, code, [x.buffer, wb, g.buffer, stats.buffer, part.buffer, dx.buffer], m, [chunks, L.rows]);
    }
    part.dispose();
  }
  return dx;
}

/**
 * dx and the affine parameters' gradients from one pass over x and g (norm_row_grad.wgsl), where a thread
 * per row runs and each row is whole parameter segments (GroupNorm); null elsewhere. On lavapipe it
 * saves norm_param's pass: ~30% of a GroupNorm's backward at [16, 16, 32, 32].
 */
export function normGradsKernel(L: NormLayout, x: Tensor, w: Tensor | null, g: Tensor, stats: Tensor): [Tensor, Tensor, Tensor] | null {
  const ctx = x.ctx;
  const wholeSegments = L.seg === 0 && L.S > 0 && L.count % L.S === 0 && L.rowStride === L.count && L.rows * L.count === L.A * L.P * L.S;
  if (!wholeSegments || L.rows === 0 || L.count === 0 || !threadPerRow(L, ctx)) return null;
  const dx = Tensor.empty(x.shape, 'f32', ctx);
  const part = Tensor.empty([2 * L.A * L.P], 'f32', ctx);
  const code = shader('norm_row_grad', {}, NORM_PARAMS);
  launch(ctx, code, [x.buffer, (w ?? x).buffer, g.buffer, stats.buffer, dx.buffer, part.buffer], baseMeta(L, w ? 1 : 0), grid1D(L.rows, 64));
  const [dw, db] = finalParamSums(ctx, part, L.P, L.A, 1);
  part.dispose();
  return [dx, dw, db];
}

/** norm_param_final: the partials [2, K, P, S2] summed per parameter into dw, db [P]. */
function finalParamSums(ctx: GpuContext, part: Tensor, P: number, K: number, S2: number): [Tensor, Tensor] {
  const dw = Tensor.empty([P], 'f32', ctx);
  const db = Tensor.empty([P], 'f32', ctx);
  const params = NORM_PARAM_FINAL_PARAMS.pack({ P, K, S2 });
  launch(ctx, shader('norm_param_final', {}, NORM_PARAM_FINAL_PARAMS), [part.buffer, dw.buffer, db.buffer], params, grid1D(P, 1));
  return [dw, db];
}

/** Raw kernels for the affine parameters' gradients (no tape): dw = Σ g·x̂, db = Σ g, each [P]. */
export function normParamGradKernel(L: NormLayout, x: Tensor, g: Tensor, stats: Tensor): [Tensor, Tensor] {
  const { A, P, S } = L;
  if (P === 0) return [Tensor.empty([0], 'f32', x.ctx), Tensor.empty([0], 'f32', x.ctx)];
  const common = { A, P, S, rowDiv: L.rowDiv, rowMod: L.rowMod, eps: L.eps };
  let part: Tensor;
  let K: number;
  let S2: number;
  if (S >= 32 || A * P * S === 0) {
    K = A;
    S2 = 1;
    part = Tensor.empty([2 * A * P], 'f32', x.ctx);
    const params = NORM_PARAM_PARAMS.pack({ ...common, K: 0, chunkA: 0 });
    if (A * P) launch(x.ctx, shader('norm_param', { MODE: 0 }, NORM_PARAM_PARAMS), [x.buffer, g.buffer, stats.buffer, part.buffer], params, grid1D(A * P, 1));
  } else {
    const Q = P * S;
    const chunkA = Math.ceil(A / Math.min(A, Math.max(1, Math.ceil(x.ctx.flags.get('norm.paramThreads') / Q))));
    K = Math.ceil(A / chunkA);
    S2 = S;
    part = Tensor.empty([2 * K * Q], 'f32', x.ctx);
    const params = NORM_PARAM_PARAMS.pack({ ...common, K, chunkA });
    launch(x.ctx, shader('norm_param', { MODE: 1 }, NORM_PARAM_PARAMS), [x.buffer, g.buffer, stats.buffer, part.buffer], params, grid1D(K * Q, 64));
  }
  const sums = finalParamSums(x.ctx, part, P, K, S2);
  part.dispose();
  return sums;
}
