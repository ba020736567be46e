import { type NDArray, contiguousStrides, nd, normAxes, normAxis } from './core.ts';

export type Axes = number | readonly number[] | undefined;

export interface ReduceOptions {
  keepdim?: boolean;
}

/**
 * Splits `x` into the groups of values that reduce to one output element, in output order
 * (each group in input order). Returns the output shape, honouring `keepdim`.
 */
export function reductionGroups(x: NDArray, axes: Axes, keepdim = false): { shape: number[]; groups: number[][] } {
  const ndim = x.shape.length;
  const reduced = new Set(normAxes(axes, ndim));
  const keepShape = x.shape.map((d, i) => (reduced.has(i) ? 1 : d));
  const keepStrides = contiguousStrides(keepShape);
  const inStrides = contiguousStrides(x.shape);
  const nOut = keepShape.reduce((a, b) => a * b, 1);
  const groups: number[][] = Array.from({ length: nOut }, () => []);
  for (let i = 0; i < x.data.length; i++) {
    let o = 0;
    for (let d = 0; d < ndim; d++) {
      if (!reduced.has(d)) o += Math.floor(i / inStrides[d]) % x.shape[d] * keepStrides[d];
    }
    groups[o].push(x.data[i]);
  }
  const shape = keepdim ? keepShape : x.shape.filter((_, i) => !reduced.has(i));
  return { shape, groups };
}

/** Reduces each group with `f`; the building block of every reduction here. */
export function reduceWith(x: NDArray, axes: Axes, keepdim: boolean, f: (values: number[]) => number): NDArray {
  const { shape, groups } = reductionGroups(x, axes, keepdim);
  return nd(shape, groups.map(f));
}

const total = (v: number[]) => v.reduce((a, b) => a + b, 0);
const nanAware = (pick: (a: number, b: number) => number) => (v: number[]) =>
  v.reduce((a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : pick(a, b)));
const maxOf = nanAware(Math.max);
const minOf = nanAware(Math.min);

export const sum = (x: NDArray, axes?: Axes, opts: ReduceOptions = {}) =>
  reduceWith(x, axes, opts.keepdim ?? false, total);
export const mean = (x: NDArray, axes?: Axes, opts: ReduceOptions = {}) =>
  reduceWith(x, axes, opts.keepdim ?? false, (v) => total(v) / v.length);
export const prod = (x: NDArray, axes?: Axes, opts: ReduceOptions = {}) =>
  reduceWith(x, axes, opts.keepdim ?? false, (v) => v.reduce((a, b) => a * b, 1));

function nonEmpty(name: string, f: (v: number[]) => number) {
  return (v: number[]) => {
    if (v.length === 0) throw new Error(`${name}: cannot reduce over an empty dimension`);
    return f(v);
  };
}

export const max = (x: NDArray, axes?: Axes, opts: ReduceOptions = {}) =>
  reduceWith(x, axes, opts.keepdim ?? false, nonEmpty('max', maxOf));
export const min = (x: NDArray, axes?: Axes, opts: ReduceOptions = {}) =>
  reduceWith(x, axes, opts.keepdim ?? false, nonEmpty('min', minOf));

export function logsumexpOf(v: number[]): number {
  if (v.length === 0) return -Infinity;
  const m = maxOf(v);
  if (!Number.isFinite(m)) return m === -Infinity ? -Infinity : m;
  return m + Math.log(total(v.map((a) => Math.exp(a - m))));
}

export const logsumexp = (x: NDArray, axes?: Axes, opts: ReduceOptions = {}) =>
  reduceWith(x, axes, opts.keepdim ?? false, logsumexpOf);

export interface VarOptions extends ReduceOptions {
  /** Subtracted from the count in the divisor: 1 = unbiased (torch default), 0 = population. */
  correction?: number;
}

/** Two-pass variance: Σ(x − mean)² / (n − correction). */
export function varOf(v: number[], correction: number): number {
  const m = total(v) / v.length;
  return total(v.map((a) => (a - m) * (a - m))) / Math.max(0, v.length - correction);
}

export const variance = (x: NDArray, axes?: Axes, opts: VarOptions = {}) =>
  reduceWith(x, axes, opts.keepdim ?? false, (v) => varOf(v, opts.correction ?? 1));
export { variance as var };

/** Index of the first maximum along `axis` (NaN counts as maximal, as in torch). All elements if `axis` is undefined. */
export function argmax(x: NDArray, axis?: number, keepdim = false): NDArray {
  const pickFirstMax = (v: number[]) => {
    if (v.length === 0) throw new Error('argmax: empty dimension');
    let best = 0;
    for (let i = 1; i < v.length; i++) {
      if (Number.isNaN(v[best])) break;
      if (Number.isNaN(v[i]) || v[i] > v[best]) best = i;
    }
    return best;
  };
  if (axis === undefined) return reduceWith(x, undefined, keepdim, pickFirstMax);
  return reduceWith(x, normAxis(axis, x.shape.length), keepdim, pickFirstMax);
}
