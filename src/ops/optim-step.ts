// The optimisers' in-place kernels (shaders/optim.wgsl, project.wgsl): no tape, they update leaves.
import type { Tensor } from '../autograd/tensor.js';
import { bindingChunks, rangeOf } from '../gpu/kernel.js';
import { full } from './creation.js';
import { f32bits, grid1D, launch, shader } from './util.js';

/**
 * One fused update of parameter `p` from `grad` and its state `m`, `v` (MODE: the optimiser, `words`:
 * its hyper-parameters, see optim.wgsl). Parameters larger than one binding (a big vocabulary's
 * embedding) are updated range by range.
 */
export function optimizerStep(mode: number, p: Tensor, grad: Tensor, m: Tensor, v: Tensor, words: number[]): void {
  const code = shader('optim', { MODE: mode });
  for (const [lo, k] of bindingChunks(p.ctx, p.size, 4)) {
    const part = (t: Tensor) => (k === p.size || t.size !== p.size ? t.buffer : rangeOf(t.buffer, lo, k, 4));
    launch(p.ctx, code, [part(p), part(grad), part(m), part(v)], [k, ...words], grid1D(k, 256));
  }
}

/** In place: x clamped to [lo, hi] and, with `center`, projected onto the L∞ ball of `radius` around it. */
export function projectKernel(x: Tensor, lo: number, hi: number, center: Tensor | null, radius: number): void {
  const c = center ?? full([1], 0, { ctx: x.ctx });
  launch(x.ctx, shader('project'), [x.buffer, c.buffer], [x.size, f32bits(lo), f32bits(hi), f32bits(radius), center ? 1 : 0], grid1D(x.size, 256));
  if (!center) c.dispose();
}
