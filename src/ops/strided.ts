import type { Tensor } from '../autograd/tensor.js';
import { coalesceDims, grid1D, launch, shader } from './util.js';

export interface StridedView { offset: number; strides: readonly number[] }

/**
 * Copies `shape` elements from a strided view of `src` into a strided view of `dst` (raw kernel, no
 * tape). Element counts and offsets are in elements of 4 bytes.
 */
export function stridedCopy(src: Tensor, from: StridedView, dst: Tensor, to: StridedView, shape: readonly number[]): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const c = coalesceDims(shape, [from.strides, to.strides]);
  const meta = [n, c.shape.length, from.offset, to.offset, ...c.shape, ...c.strides[0], ...c.strides[1]];
  const code = shader('strided_copy', { T: src.dtype === 'f32' ? 'f32' : 'u32' });
  const last = c.shape.length - 1;
  const vec4 = c.shape[last] % 4 === 0 && from.offset % 4 === 0 && to.offset % 4 === 0
    && c.strides.every((s) => s[last] === 1 && s.every((v, d) => d === last || v % 4 === 0));
  if (vec4) launch(src.ctx, code, [src.buffer, dst.buffer], meta, grid1D(n / 4, 256), undefined, 'main4');
  else launch(src.ctx, code, [src.buffer, dst.buffer], meta, grid1D(n, 256));
}
