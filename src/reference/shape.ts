import {
  type NDArray,
  broadcastStrides,
  contiguousStrides,
  fromStrided,
  nd,
  normAxes,
  normAxis,
  numel,
  shapesEqual,
  unravel,
} from './core.ts';

/** Reshape with at most one inferred (-1) dimension. */
export function reshape(x: NDArray, shape: readonly number[]): NDArray {
  const inferred = shape.filter((d) => d === -1).length;
  if (inferred > 1) throw new Error(`reshape: more than one -1 in [${shape.join(', ')}]`);
  const known = shape.reduce((a, d) => (d === -1 ? a : a * d), 1);
  const out = shape.map((d) => {
    if (d !== -1) return d;
    if (known === 0 || x.data.length % known !== 0) {
      throw new Error(`reshape: cannot infer -1 for [${x.shape.join(', ')}] -> [${shape.join(', ')}]`);
    }
    return x.data.length / known;
  });
  if (numel(out) !== x.data.length) {
    throw new Error(`reshape: cannot reshape [${x.shape.join(', ')}] to [${shape.join(', ')}]`);
  }
  return nd(out, x.data);
}

export function permute(x: NDArray, dims: readonly number[]): NDArray {
  const ndim = x.shape.length;
  const norm = dims.map((d) => normAxis(d, ndim));
  if (norm.length !== ndim || new Set(norm).size !== ndim) {
    throw new Error(`permute: [${dims.join(', ')}] is not a permutation of ${ndim} dims`);
  }
  const strides = contiguousStrides(x.shape);
  return fromStrided(x.data, norm.map((d) => x.shape[d]), norm.map((d) => strides[d]));
}

export function transpose(x: NDArray, d0: number, d1: number): NDArray {
  const dims = x.shape.map((_, i) => i);
  const a = normAxis(d0, dims.length);
  const b = normAxis(d1, dims.length);
  [dims[a], dims[b]] = [dims[b], dims[a]];
  return permute(x, dims);
}

export type SliceSpec = readonly [start?: number, end?: number, step?: number] | null | undefined;

/** Python/NumPy basic slicing, one spec per leading dim (missing or null = whole dim); positive steps only. */
export function slice(x: NDArray, specs: readonly SliceSpec[]): NDArray {
  if (specs.length > x.shape.length) throw new Error(`slice: ${specs.length} specs for ${x.shape.length}-d array`);
  const strides = contiguousStrides(x.shape);
  let offset = 0;
  const shape: number[] = [];
  const outStrides: number[] = [];
  x.shape.forEach((n, d) => {
    const [startIn, endIn, step = 1] = specs[d] ?? [];
    if (!Number.isInteger(step) || step <= 0) throw new Error(`slice: step must be a positive integer, got ${step}`);
    const clampIndex = (i: number) => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
    const start = startIn === undefined ? 0 : clampIndex(startIn);
    const end = endIn === undefined ? n : clampIndex(endIn);
    const len = end > start ? Math.ceil((end - start) / step) : 0;
    offset += start * strides[d];
    shape.push(len);
    outStrides.push(strides[d] * step);
  });
  return fromStrided(x.data, shape, outStrides, numel(shape) === 0 ? 0 : offset);
}

/** torch.narrow: `length` elements from `start` along `axis`. */
export function narrow(x: NDArray, axis: number, start: number, length: number): NDArray {
  const a = normAxis(axis, x.shape.length);
  const specs: SliceSpec[] = x.shape.map(() => null);
  specs[a] = [start, start + length];
  return slice(x, specs);
}

/** torch.chunk: ceil(n / chunks) per piece, the last possibly smaller (and fewer pieces if they run out). */
export function chunk(x: NDArray, chunks: number, axis = 0): NDArray[] {
  const a = normAxis(axis, x.shape.length);
  const size = Math.ceil(x.shape[a] / chunks);
  const out: NDArray[] = [];
  for (let s = 0; s < x.shape[a]; s += size) out.push(narrow(x, a, s, Math.min(size, x.shape[a] - s)));
  return out;
}

export function concat(xs: readonly NDArray[], axis = 0): NDArray {
  if (xs.length === 0) throw new Error('concat: no arrays');
  const ndim = xs[0].shape.length;
  const a = normAxis(axis, ndim);
  for (const x of xs) {
    if (x.shape.length !== ndim || x.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
      throw new Error(`concat: shapes [${xs.map((t) => t.shape.join('x')).join('], [')}] differ off axis ${axis}`);
    }
  }
  const shape = [...xs[0].shape];
  shape[a] = xs.reduce((s, x) => s + x.shape[a], 0);
  const outer = numel(shape.slice(0, a));
  const inner = numel(shape.slice(a + 1));
  const out = nd(shape);
  let dst = 0;
  for (let o = 0; o < outer; o++) {
    for (const x of xs) {
      const block = x.shape[a] * inner;
      out.data.set(x.data.subarray(o * block, (o + 1) * block), dst);
      dst += block;
    }
  }
  return out;
}

export function unsqueeze(x: NDArray, axis: number): NDArray {
  const a = normAxis(axis, x.shape.length + 1);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return nd(shape, x.data);
}

/** Removes size-1 dims: all of them, or those listed (listed dims of other sizes are kept, as torch). */
export function squeeze(x: NDArray, axes?: number | readonly number[]): NDArray {
  const listed = new Set(normAxes(axes, x.shape.length));
  return nd(x.shape.filter((d, i) => !(d === 1 && listed.has(i))), x.data);
}

export function stack(xs: readonly NDArray[], axis = 0): NDArray {
  if (xs.length === 0) throw new Error('stack: no arrays');
  const a = normAxis(axis, xs[0].shape.length + 1);
  for (const x of xs) {
    if (!shapesEqual(x.shape, xs[0].shape)) throw new Error('stack: arrays must share a shape');
  }
  return concat(xs.map((x) => unsqueeze(x, a)), a);
}

/**
 * F.pad in constant mode. `pads` pairs start from the last dim: [left, right, top, bottom, ...].
 * Negative pads crop.
 */
export function pad(x: NDArray, pads: readonly number[], value = 0): NDArray {
  const ndim = x.shape.length;
  if (pads.length % 2 !== 0 || pads.length / 2 > ndim) {
    throw new Error(`pad: ${pads.length} pad values for ${ndim}-d array`);
  }
  const before = new Array<number>(ndim).fill(0);
  const after = new Array<number>(ndim).fill(0);
  for (let p = 0; p < pads.length / 2; p++) {
    before[ndim - 1 - p] = pads[2 * p];
    after[ndim - 1 - p] = pads[2 * p + 1];
  }
  const shape = x.shape.map((d, i) => d + before[i] + after[i]);
  if (shape.some((d) => d < 0)) throw new Error(`pad: [${pads.join(', ')}] gives a negative size`);
  const out = nd(shape);
  const inStrides = contiguousStrides(x.shape);
  for (let i = 0; i < out.data.length; i++) {
    const idx = unravel(i, shape);
    let src = 0;
    let inside = true;
    for (let d = 0; d < ndim && inside; d++) {
      const j = idx[d] - before[d];
      inside = j >= 0 && j < x.shape[d];
      src += j * inStrides[d];
    }
    out.data[i] = inside ? x.data[src] : value;
  }
  return out;
}

export function broadcastTo(x: NDArray, shape: readonly number[]): NDArray {
  return fromStrided(x.data, shape, broadcastStrides(x.shape, shape));
}
export const expand = broadcastTo;

export function flip(x: NDArray, axes: number | readonly number[]): NDArray {
  const flipped = new Set(normAxes(axes, x.shape.length));
  const base = contiguousStrides(x.shape);
  let offset = 0;
  const strides = base.map((s, d) => {
    if (!flipped.has(d)) return s;
    offset += (x.shape[d] - 1) * s;
    return -s;
  });
  return fromStrided(x.data, x.shape, strides, numel(x.shape) === 0 ? 0 : offset);
}

function checkIndex(i: number, n: number, op: string): number {
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`${op}: index ${i} out of range [0, ${n})`);
  return i;
}

/** torch.gather: out[..i_axis..] = x[..index[..]..]; index may be smaller than x off the axis. */
export function gather(x: NDArray, axis: number, index: NDArray): NDArray {
  const ndim = x.shape.length;
  const a = normAxis(axis, ndim);
  if (index.shape.length !== ndim || index.shape.some((d, i) => i !== a && d > x.shape[i])) {
    throw new Error(`gather: index shape [${index.shape.join(', ')}] incompatible with [${x.shape.join(', ')}]`);
  }
  const strides = contiguousStrides(x.shape);
  const out = nd(index.shape);
  for (let i = 0; i < out.data.length; i++) {
    const idx = unravel(i, index.shape);
    idx[a] = checkIndex(index.data[i], x.shape[a], 'gather');
    out.data[i] = x.data[idx.reduce((s, v, d) => s + v * strides[d], 0)];
  }
  return out;
}

/** torch.index_select along `axis` with a 1-D list of indices. */
export function indexSelect(x: NDArray, axis: number, index: readonly number[] | NDArray): NDArray {
  const ids = Array.isArray(index) ? (index as readonly number[]) : Array.from((index as NDArray).data);
  if (!Array.isArray(index) && (index as NDArray).shape.length > 1) throw new Error('indexSelect: index must be 1-D');
  const a = normAxis(axis, x.shape.length);
  const parts = ids.map((i) => narrow(x, a, checkIndex(i, x.shape[a], 'indexSelect'), 1));
  if (parts.length === 0) {
    const shape = [...x.shape];
    shape[a] = 0;
    return nd(shape);
  }
  return concat(parts, a);
}
