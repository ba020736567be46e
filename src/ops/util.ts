import { Tensor, shapeStr } from '../autograd/tensor.js';
import { grid1D, launch } from '../gpu/kernel.js';
import { f32bits, shader } from '../gpu/wgsl.js';

export type TensorLike = Tensor | number;

export { f32bits, grid1D, launch, shader };

/** Numpy broadcasting of two shapes; the error names the op and both shapes. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`cflens: ${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} cannot be broadcast together (dimension ${i}: ${da} vs ${db})`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Strides for reading `shape` as if broadcast to `out` (0 along broadcast dimensions). */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const strides = contiguousStrides(shape);
  const off = out.length - shape.length;
  return out.map((_, i) => (i < off || shape[i - off] === 1 ? 0 : strides[i - off]));
}

/**
 * Merges adjacent dimensions that every operand walks as one (stride[d] = stride[d+1]·size[d+1], or
 * both 0) and drops size-1 ones, so kernels decode fewer indices per element: a scalar broadcast
 * over [B, H, L, L] becomes one dimension.
 */
export function coalesceDims(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const out: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => out[k][last] === s[d] * shape[d])) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => (out[k][last] = s[d]));
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => out[k].push(s[d]));
    }
  }
  if (!outShape.length) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape: outShape, strides: out };
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Resolves a possibly negative axis; the error names the op. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`cflens: ${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  return a;
}

export function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = [...new Set(list.map((a) => normAxis(op, a, rank)))].sort((x, y) => x - y);
  if (out.length !== list.length) throw new Error(`cflens: ${op}: repeated axis in ${JSON.stringify(list)}`);
  return out;
}

export function assertFloat(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    t.assertAlive(op);
    if (t.dtype !== 'f32') throw new Error(`cflens: ${op} needs f32 tensors, got ${t.dtype} of shape ${shapeStr(t.shape)}; cast with .float()`);
  }
}

export function sameCtx(op: string, ...ts: Tensor[]): void {
  const c = ts[0].ctx;
  for (const t of ts) if (t.ctx !== c) throw new Error(`cflens: ${op}: tensors live on different GPU devices`);
}
