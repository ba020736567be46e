// Materialises a strided view of a storage (torch's offset/size/stride, all in elements) as a
// contiguous copy. Callers validate the view against the storage first.

/** Row-major strides for `size`; dims of size 1 may carry any stride. */
export function isContiguous(size: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] === 1) continue;
    if (stride[d] !== expected) return false;
    expected *= size[d];
  }
  return true;
}

/** The highest element index a non-empty view touches. */
export const lastIndex = (offset: number, size: readonly number[], stride: readonly number[]): number =>
  size.reduce((a, s, d) => a + (s - 1) * stride[d], offset);

/**
 * Copies the view's elements in row-major order. `storage` must be aligned to min(esize, 4); elements are
 * moved as 1-, 2- or 4-byte words (8-byte ones as two words), so NaN payloads are preserved bit for bit.
 */
export function gatherStrided(storage: ArrayBuffer, esize: number, offset: number, size: readonly number[], stride: readonly number[]): ArrayBuffer {
  const count = size.reduce((a, b) => a * b, 1);
  if (count === 0) return new ArrayBuffer(0);
  if (isContiguous(size, stride)) return storage.slice(offset * esize, (offset + count) * esize);
  const words = esize === 8 ? 2 : 1;
  const Word = esize === 1 ? Uint8Array : esize === 2 ? Uint16Array : Uint32Array;
  const src = new Word(storage, 0, Math.floor(storage.byteLength / Word.BYTES_PER_ELEMENT));
  const out = new Word(count * words);
  const dims = size.map((s, d) => [s, stride[d] * words] as const).filter(([s]) => s !== 1);
  const rank = dims.length;
  const [inner, innerStride] = dims[rank - 1];
  const idx = new Array<number>(rank).fill(0);
  let base = offset * words;
  let o = 0;
  for (;;) {
    for (let j = 0, q = base; j < inner; j++, q += innerStride) {
      for (let w = 0; w < words; w++) out[o++] = src[q + w];
    }
    let d = rank - 2;
    for (; d >= 0; d--) {
      base += dims[d][1];
      if (++idx[d] < dims[d][0]) break;
      base -= dims[d][1] * dims[d][0];
      idx[d] = 0;
    }
    if (d < 0) return out.buffer;
  }
}
