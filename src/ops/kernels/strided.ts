// strided_copy.wgsl: for every coordinate c of an iteration shape, dst[dstOffset + c·dstStride] =
// src[srcOffset + c·srcStride] — broadcasts, permutes, step slices and writes into slices. Raw, no tape.
import type { Tensor } from '../../autograd/tensor.js';
import { grid1D, launch } from '../../gpu/kernel.js';
import { defineParams, shader } from '../../gpu/wgsl.js';
import { coalesceDims } from '../util.js';

export interface StridedView { offset: number; strides: readonly number[] }

/** dims: the coalesced shape, then the source's strides, then the destination's. */
export const STRIDED_COPY_PARAMS = defineParams('StridedCopyParams', {
  n: 'u32', rank: 'u32', srcOffset: 'u32', dstOffset: 'u32', dims: ['u32', '*'],
});

/**
 * Copies `shape` elements from a strided view of `src` into a strided view of `dst`. Element counts and
 * offsets are in elements of 4 bytes.
 */
export function stridedCopy(src: Tensor, from: StridedView, dst: Tensor, to: StridedView, shape: readonly number[]): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const c = coalesceDims(shape, [from.strides, to.strides]);
  const params = STRIDED_COPY_PARAMS.pack({
    n, rank: c.shape.length, srcOffset: from.offset, dstOffset: to.offset, dims: [...c.shape, ...c.strides[0], ...c.strides[1]],
  });
  const code = shader('strided_copy', { T: src.dtype === 'f32' ? 'f32' : 'u32' }, STRIDED_COPY_PARAMS);
  const last = c.shape.length - 1;
  // A side is vec4-aligned when its innermost axis is contiguous and every other stride and its offset are multiples of 4.
  const aligned = (strides: readonly number[], offset: number) => offset % 4 === 0 && strides[last] === 1 && strides.every((v, d) => d === last || v % 4 === 0);
  const entry = c.shape[last] % 4 !== 0 ? null
    : aligned(c.strides[0], from.offset) ? (aligned(c.strides[1], to.offset) ? 'main4' : 'scatter4')
      : aligned(c.strides[1], to.offset) ? 'gather4' : null;
  if (entry) launch(src.ctx, code, [src.buffer, dst.buffer], params, grid1D(n / 4, 256), undefined, entry);
  else launch(src.ctx, code, [src.buffer, dst.buffer], params, grid1D(n, 256));
}
