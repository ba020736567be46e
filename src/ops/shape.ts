import { record } from '../autograd/record.js';
import { Tensor, numelOf, shapeStr } from '../autograd/tensor.js';
import { full, zeros } from './creation.js';
import { reduceKernel } from './kernels/reduce.js';
import { stridedCopy } from './kernels/strided.js';
import { assertFloat, broadcastShapes, broadcastStrides, contiguousStrides, normAxis, sameShape } from './util.js';

function assertCopyable(op: string, x: Tensor): void {
  x.assertAlive(op);
  if (x.dtype === 'f16') throw new Error(`cflens: ${op} needs f32 or i32 tensors; cast f16 with .float() first`);
}

/** Same data, new shape (one -1 is inferred). Shares the buffer. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  x.assertAlive('reshape');
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const inferred = shape.filter((d) => d === -1).length;
  if (inferred > 1) throw new Error(`cflens: reshape: only one -1 allowed in ${shapeStr(shape)}`);
  const resolved = shape.map((d) => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
  if (numelOf(resolved) !== x.size || resolved.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`cflens: reshape: cannot view ${shapeStr(x.shape)} (${x.size} elements) as ${shapeStr(shape)}`);
  }
  const y = new Tensor(x.storage.retain(), resolved, x.dtype);
  return record('reshape', [x], y, (g) => [reshape(g, x.shape)]);
}

export const view = reshape;
export const flatten = (x: Tensor, start = 0, end = -1): Tensor => {
  const s = normAxis('flatten', start, Math.max(1, x.ndim));
  const e = normAxis('flatten', end, Math.max(1, x.ndim));
  if (x.ndim === 0) return reshape(x, [1]);
  return reshape(x, [...x.shape.slice(0, s), numelOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
};

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis('unsqueeze', axis, x.ndim + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

export function squeeze(x: Tensor, axes?: number | readonly number[]): Tensor {
  const list = axes === undefined
    ? x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)
    : (typeof axes === 'number' ? [axes] : axes).map((a) => normAxis('squeeze', a, x.ndim));
  return reshape(x, x.shape.filter((d, i) => !(list.includes(i) && d === 1)));
}

/**
 * Sums a broadcast gradient back to `shape` (the vjp of broadcasting; differentiable: its own vjp is
 * broadcasting back). On the reduction kernel directly, so shape.ts needs nothing from reduce.ts.
 */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i);
  });
  if (!axes.length) return reshape(g, shape);
  const s = record('sum', [g], reduceKernel(g, axes, 'sum'), (gg) => [broadcastTo(gg, g.shape)]);
  const r = reshape(s, shape);
  s.dispose();
  return r;
}

/** A copy with numpy broadcasting to `shape`; the vjp sums back. */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  assertCopyable('broadcastTo', x);
  const target = broadcastShapes('broadcastTo', x.shape, shape);
  if (!sameShape(target, shape)) throw new Error(`cflens: broadcastTo: cannot broadcast ${shapeStr(x.shape)} to ${shapeStr(shape)}`);
  if (sameShape(x.shape, shape)) return reshape(x, shape);
  const y = Tensor.empty(shape, x.dtype, x.ctx);
  stridedCopy(x, { offset: 0, strides: broadcastStrides(x.shape, shape) }, y, { offset: 0, strides: contiguousStrides(shape) }, shape);
  return record('broadcastTo', [x], y, (g) => [sumToShape(g, x.shape)]);
}
export const expand = broadcastTo;

/** Reorders axes (a copy). */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  assertCopyable('permute', x);
  const d = dims.map((a) => normAxis('permute', a, x.ndim));
  if (d.length !== x.ndim || new Set(d).size !== d.length) {
    throw new Error(`cflens: permute: ${JSON.stringify(dims)} is not a permutation of the ${x.ndim} axes of ${shapeStr(x.shape)}`);
  }
  const shape = d.map((a) => x.shape[a]);
  const strides = contiguousStrides(x.shape);
  const y = Tensor.empty(shape, x.dtype, x.ctx);
  stridedCopy(x, { offset: 0, strides: d.map((a) => strides[a]) }, y, { offset: 0, strides: contiguousStrides(shape) }, shape);
  const inverse = d.map((_, i) => d.indexOf(i));
  return record('permute', [x], y, (g) => [permute(g, inverse)]);
}

export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const a = normAxis('transpose', dim0, x.ndim);
  const b = normAxis('transpose', dim1, x.ndim);
  const dims = [...x.shape.keys()];
  [dims[a], dims[b]] = [dims[b], dims[a]];
  return permute(x, dims);
}

/** [start, end, step] per axis with Python semantics (negative start/end, positive step); null keeps an axis. */
export type SliceSpec = readonly [number?, number?, number?] | null | undefined;

function resolveSlice(op: string, spec: SliceSpec, size: number): { start: number; count: number; step: number } {
  const [s0, e0, st] = spec ?? [];
  const step = st ?? 1;
  if (!Number.isInteger(step) || step <= 0) throw new Error(`cflens: ${op}: step must be a positive integer, got ${step}`);
  const norm = (v: number | undefined, dflt: number) => {
    if (v === undefined) return dflt;
    const r = v < 0 ? v + size : v;
    return Math.min(Math.max(r, 0), size);
  };
  const start = norm(s0, 0);
  const end = norm(e0, size);
  return { start, step, count: Math.max(0, Math.ceil((end - start) / step)) };
}

export function slice(x: Tensor, specs: readonly SliceSpec[]): Tensor {
  assertCopyable('slice', x);
  if (specs.length > x.ndim) throw new Error(`cflens: slice: ${specs.length} slice specs for a tensor of shape ${shapeStr(x.shape)}`);
  const strides = contiguousStrides(x.shape);
  const parts = x.shape.map((d, i) => resolveSlice('slice', specs[i], d));
  const shape = parts.map((p) => p.count);
  const view = { offset: parts.reduce((o, p, i) => o + p.start * strides[i], 0), strides: parts.map((p, i) => p.step * strides[i]) };
  const y = Tensor.empty(shape, x.dtype, x.ctx);
  stridedCopy(x, view, y, { offset: 0, strides: contiguousStrides(shape) }, shape);
  return record('slice', [x], y, (g) => {
    const gx = zeros(x.shape, { ctx: x.ctx });
    stridedCopy(g, { offset: 0, strides: contiguousStrides(shape) }, gx, view, shape);
    return [gx];
  });
}

/** `length` elements of `axis` from `start` (torch.narrow). */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = normAxis('narrow', axis, x.ndim);
  return slice(x, x.shape.map((_, i) => (i === a ? [start, start + length, 1] : null)));
}

export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (!xs.length) throw new Error('cflens: concat: no tensors given');
  for (const t of xs) assertCopyable('concat', t);
  const a = normAxis('concat', axis, xs[0].ndim);
  for (const t of xs) {
    if (t.ndim !== xs[0].ndim || t.shape.some((d, i) => i !== a && d !== xs[0].shape[i]) || t.dtype !== xs[0].dtype) {
      throw new Error(`cflens: concat: shapes ${xs.map((u) => shapeStr(u.shape)).join(', ')} differ outside axis ${axis}`);
    }
  }
  const shape = [...xs[0].shape];
  shape[a] = xs.reduce((n, t) => n + t.shape[a], 0);
  const y = Tensor.empty(shape, xs[0].dtype, xs[0].ctx);
  const ys = contiguousStrides(shape);
  const offsets: number[] = [];
  let at = 0;
  for (const t of xs) {
    offsets.push(at);
    stridedCopy(t, { offset: 0, strides: contiguousStrides(t.shape) }, y, { offset: at * ys[a], strides: ys }, t.shape);
    at += t.shape[a];
  }
  return record('concat', xs, y, (g) => xs.map((t, i) => (t.requiresGrad ? narrow(g, a, offsets[i], t.shape[a]) : null)));
}
export const cat = concat;

export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (!xs.length) throw new Error('cflens: stack: no tensors given');
  const a = normAxis('stack', axis, xs[0].ndim + 1);
  for (const t of xs) {
    if (!sameShape(t.shape, xs[0].shape)) throw new Error(`cflens: stack: shapes ${xs.map((u) => shapeStr(u.shape)).join(', ')} differ`);
  }
  const parts = xs.map((t) => unsqueeze(t, a));
  const y = concat(parts, a);
  for (const p of parts) p.dispose();
  return y;
}

/**
 * Constant padding with PyTorch's F.pad order: pairs for the last axis first
 * ([left, right, top, bottom, ...]). Negative amounts crop.
 */
export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  assertFloat('pad', x);
  if (pads.length % 2 || pads.length / 2 > x.ndim) {
    throw new Error(`cflens: pad: ${pads.length} pad values for a tensor of shape ${shapeStr(x.shape)} (need pairs, at most 2 per axis)`);
  }
  const before = x.shape.map(() => 0);
  const after = x.shape.map(() => 0);
  for (let k = 0; k < pads.length / 2; k++) {
    before[x.ndim - 1 - k] = pads[2 * k];
    after[x.ndim - 1 - k] = pads[2 * k + 1];
  }
  const shape = x.shape.map((d, i) => d + before[i] + after[i]);
  if (shape.some((d) => d < 0)) throw new Error(`cflens: pad: padding ${JSON.stringify(pads)} crops ${shapeStr(x.shape)} below zero`);
  // The region of x that survives cropping, and where it lands in the output.
  const srcStart = before.map((b) => Math.max(0, -b));
  const dstStart = before.map((b) => Math.max(0, b));
  const region = x.shape.map((d, i) => Math.max(0, d - srcStart[i] - Math.max(0, -after[i])));
  const xs = contiguousStrides(x.shape);
  const ys = contiguousStrides(shape);
  const srcView = { offset: srcStart.reduce((o, s, i) => o + s * xs[i], 0), strides: xs };
  const dstView = { offset: dstStart.reduce((o, s, i) => o + s * ys[i], 0), strides: ys };
  const y = full(shape, value, { ctx: x.ctx });
  stridedCopy(x, srcView, y, dstView, region);
  return record('pad', [x], y, (g) => {
    const gx = zeros(x.shape, { ctx: x.ctx });
    stridedCopy(g, dstView, gx, srcView, region);
    return [gx];
  });
}

/** A copy with its own buffer (detach() shares the buffer; in-place optimiser steps need a copy). */
export function clone(x: Tensor): Tensor {
  assertCopyable('clone', x);
  const y = Tensor.empty(x.shape, x.dtype, x.ctx);
  const s = contiguousStrides(x.shape);
  stridedCopy(x, { offset: 0, strides: s }, y, { offset: 0, strides: s }, x.shape);
  return record('clone', [x], y, (g) => [g]);
}
