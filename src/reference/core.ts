/** Dense row-major array of float64 values: the currency of the CPU reference ops. */
export interface NDArray {
  shape: number[];
  data: Float64Array;
}

export type Operand = NDArray | number;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Builds an NDArray; zeros when `data` is omitted. Throws if the data length does not fit the shape. */
export function nd(shape: readonly number[], data?: ArrayLike<number>): NDArray {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`nd: invalid shape [${shape.join(', ')}]`);
  }
  const n = numel(shape);
  if (data === undefined) return { shape: [...shape], data: new Float64Array(n) };
  if (data.length !== n) {
    throw new Error(`nd: data length ${data.length} does not match shape [${shape.join(', ')}] (${n} elements)`);
  }
  return { shape: [...shape], data: Float64Array.from(data) };
}

export function scalar(value: number): NDArray {
  return nd([], [value]);
}

export function toND(x: Operand): NDArray {
  return typeof x === 'number' ? scalar(x) : x;
}

export function clone(x: NDArray): NDArray {
  return { shape: [...x.shape], data: new Float64Array(x.data) };
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** Normalises a possibly negative axis against `ndim`, throwing when out of range. */
export function normAxis(axis: number, ndim: number): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(a) || a < 0 || a >= ndim) {
    throw new Error(`axis ${axis} out of range for ${ndim}-d array`);
  }
  return a;
}

/** `undefined` means every axis; the result is sorted and free of duplicates. */
export function normAxes(axes: number | readonly number[] | undefined, ndim: number): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = list.map((a) => normAxis(a, ndim));
  if (new Set(out).size !== out.length) throw new Error(`duplicate axes [${list.join(', ')}]`);
  return out.sort((a, b) => a - b);
}

export function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcasting of two shapes. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`cannot broadcast shapes [${a.join(', ')}] and [${b.join(', ')}]`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read an array of shape `inShape` as if broadcast to `outShape` (0 on broadcast dims). */
export function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): number[] {
  const inStrides = contiguousStrides(inShape);
  const offset = outShape.length - inShape.length;
  if (offset < 0) throw new Error(`cannot broadcast [${inShape.join(', ')}] to [${outShape.join(', ')}]`);
  return outShape.map((d, i) => {
    const j = i - offset;
    if (j < 0) return 0;
    if (inShape[j] === d) return inStrides[j];
    if (inShape[j] === 1) return 0;
    throw new Error(`cannot broadcast [${inShape.join(', ')}] to [${outShape.join(', ')}]`);
  });
}

/**
 * Copies the strided view (`shape`, `strides`, `offset`) of `data` into a new contiguous array.
 * Most layout ops (permute, slice, broadcast, flip) are one call to this.
 */
export function fromStrided(
  data: Float64Array,
  shape: readonly number[],
  strides: readonly number[],
  offset = 0,
): NDArray {
  const out = nd(shape);
  const n = out.data.length;
  if (n === 0) return out;
  const ndim = shape.length;
  const idx = new Array<number>(ndim).fill(0);
  let src = offset;
  for (let i = 0; i < n; i++) {
    out.data[i] = data[src];
    for (let d = ndim - 1; d >= 0; d--) {
      idx[d]++;
      src += strides[d];
      if (idx[d] < shape[d]) break;
      src -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** Calls `fn(offsets)` for every element of `outShape`, with the flat offset into each operand. */
export function forEachBroadcast(
  outShape: readonly number[],
  operandStrides: readonly (readonly number[])[],
  fn: (outIndex: number, offsets: number[]) => void,
): void {
  const n = numel(outShape);
  if (n === 0) return;
  const ndim = outShape.length;
  const idx = new Array<number>(ndim).fill(0);
  const offsets = operandStrides.map(() => 0);
  for (let i = 0; i < n; i++) {
    fn(i, offsets);
    for (let d = ndim - 1; d >= 0; d--) {
      idx[d]++;
      for (let k = 0; k < offsets.length; k++) offsets[k] += operandStrides[k][d];
      if (idx[d] < outShape[d]) break;
      for (let k = 0; k < offsets.length; k++) offsets[k] -= operandStrides[k][d] * outShape[d];
      idx[d] = 0;
    }
  }
}

/** Multi-index of flat position `flat` in a contiguous array of `shape`. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return idx;
}

/** Reads `[h, w]` from a number or pair, as PyTorch's `_pair`. */
export function pair(v: number | readonly number[], name: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (v.length !== 2) throw new Error(`${name} must be a number or [h, w], got [${v.join(', ')}]`);
  return [v[0], v[1]];
}
