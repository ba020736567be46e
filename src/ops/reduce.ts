import { record } from '../autograd/record.js';
import { defineFlag } from '../gpu/flags.js';
import { Tensor } from '../autograd/tensor.js';
import { div, eq, exp, mul, sub } from './elementwise.js';
import { broadcastTo, reshape } from './shape.js';
import { assertFloat, coalesceDims, contiguousStrides, grid1D, launch, normAxes, sameShape, shader } from './util.js';

type Axes = number | readonly number[] | undefined;
const MODES = { sum: 0, max: 1, min: 2, logsumexp: 3, sqdev: 4 } as const;

/** Output shape of a reduction: reduced axes become 1 (keepdim) or disappear. */
function reducedShape(shape: readonly number[], axes: number[], keepdim: boolean): number[] {
  return keepdim ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

declare module '../gpu/flags.js' {
  interface FlagValues {
    'reduce.kernel': 'auto' | 'thread' | 'workgroup';
    'reduce.cpuThreadOutputs': number;
  }
}
defineFlag({ name: 'reduce.kernel', default: 'auto', doc: "reductions: 'workgroup' (a tree per output element), 'thread' (a thread per output) or 'auto' (a workgroup; on CPU adapters see reduce.cpuThreadOutputs)" });
defineFlag({ name: 'reduce.cpuThreadOutputs', default: 64, doc: "'auto' on CPU adapters: a thread per output from this many outputs (llvmpipe runs a tree's barriers as loops)" });

/** The raw reduction kernel (no tape); output has keepdim shape. */
function reduceKernel(x: Tensor, axes: number[], mode: keyof typeof MODES): Tensor {
  const shape = x.shape;
  const strides = contiguousStrides(shape);
  const keepAxes = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outShape = reducedShape(shape, axes, true);
  const out = Tensor.empty(outShape, 'f32', x.ctx);
  const outCount = out.size;
  const red = axes.reduce((n, a) => n * shape[a], 1);
  if (outCount === 0) return out;
  // Kept and reduced axes each walked as few dimensions as they allow (fewer index decodes per element).
  const keep = coalesceDims(keepAxes.map((i) => shape[i]), [keepAxes.map((i) => strides[i])]);
  const reduced = coalesceDims(axes.map((i) => shape[i]), [axes.map((i) => strides[i])]);
  const meta = [outCount, red, keep.shape.length, reduced.shape.length, ...keep.shape, ...keep.strides[0], ...reduced.shape, ...reduced.strides[0]];
  const kind = x.ctx.flags.get('reduce.kernel');
  const perThread = kind === 'thread' || (kind === 'auto' && x.ctx.caps.isCpu && outCount >= x.ctx.flags.get('reduce.cpuThreadOutputs'));
  const code = shader('reduce', { MODE: MODES[mode] });
  if (perThread) launch(x.ctx, code, [x.buffer, out.buffer], meta, grid1D(outCount, 64), undefined, 'per_output');
  else launch(x.ctx, code, [x.buffer, out.buffer], meta, grid1D(outCount, 1));
  return out;
}

function finishShape(op: string, x: Tensor, y: Tensor, axes: number[], keepdim: boolean, vjp: (g: Tensor) => Tensor): Tensor {
  const out = record(op, [x], y, (g) => [vjp(g)]);
  if (keepdim) return out;
  const r = reshape(out, reducedShape(x.shape, axes, false));
  out.dispose();
  return r;
}

function prepare(op: string, x: Tensor, axes: Axes): number[] {
  assertFloat(op, x);
  return normAxes(op, axes, x.ndim);
}

export function sum(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  const ax = prepare('sum', x, axes);
  return finishShape('sum', x, reduceKernel(x, ax, 'sum'), ax, keepdim, (g) => broadcastTo(g, x.shape));
}

export function mean(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  const ax = prepare('mean', x, axes);
  const n = ax.reduce((k, a) => k * x.shape[a], 1);
  const s = reduceKernel(x, ax, 'sum');
  const y = mul(s, 1 / n);
  s.dispose();
  return finishShape('mean', x, y, ax, keepdim, (g) => mul(broadcastTo(g, x.shape), 1 / n));
}

function extremum(op: 'max' | 'min', x: Tensor, axes: Axes, keepdim: boolean): Tensor {
  const ax = prepare(op, x, axes);
  const y = reduceKernel(x, ax, op);
  // Ties share the gradient equally, as torch.amax/amin do.
  return finishShape(op, x, y, ax, keepdim, (g) => {
    const hit = eq(x, y);
    const count = sum(hit, ax, true);
    return mul(hit, div(g, count));
  });
}

export const max = (x: Tensor, axes?: Axes, keepdim = false) => extremum('max', x, axes, keepdim);
export const min = (x: Tensor, axes?: Axes, keepdim = false) => extremum('min', x, axes, keepdim);

export function logsumexp(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  const ax = prepare('logsumexp', x, axes);
  const y = reduceKernel(x, ax, 'logsumexp');
  return finishShape('logsumexp', x, y, ax, keepdim, (g) => mul(g, exp(sub(x, y))));
}

/** Variance with Bessel's correction by default (correction 1), as torch.var. */
export function variance(x: Tensor, axes?: Axes, { keepdim = false, correction = 1 }: { keepdim?: boolean; correction?: number } = {}): Tensor {
  const ax = prepare('var', x, axes);
  const n = ax.reduce((k, a) => k * x.shape[a], 1);
  const ss = reduceKernel(x, ax, 'sqdev');
  const y = mul(ss, 1 / Math.max(0, n - correction));
  ss.dispose();
  return finishShape('var', x, y, ax, keepdim, (g) => {
    const m = mean(x, ax, true);
    return mul(mul(g, sub(x, m)), 2 / Math.max(0, n - correction));
  });
}

/** Sums a broadcast gradient back to `shape` (the vjp of broadcasting). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i);
  });
  const s = axes.length ? sum(g, axes, true) : g;
  const r = reshape(s, shape);
  if (s !== g) s.dispose();
  return r;
}

