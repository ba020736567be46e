// shaders/fill.wgsl: dst[i] = start + (first + i) · step over a tensor, range by range where it is larger
// than one binding. Used by the creation ops and by ops that need a zeroed output.
import type { Binding, GpuContext } from '../../gpu/context.js';
import { bindingChunks, grid1D, launch, rangeOf } from '../../gpu/kernel.js';
import { defineParams, shader } from '../../gpu/wgsl.js';

export const FILL_PARAMS = defineParams('FillParams', { count: 'u32', start: 'f32', step: 'f32', first: 'u32' });

/** Fills `count` f32s of `buffer` with start + i · step (a constant when step is 0). */
export function fillBuffer(ctx: GpuContext, buffer: GPUBuffer, count: number, start: number, step = 0): void {
  if (count === 0) return;
  for (const [lo, k] of bindingChunks(ctx, count, 4)) {
    const dst: Binding = k === count ? buffer : rangeOf(buffer, lo, k, 4);
    launch(ctx, shader('fill', {}, FILL_PARAMS), [dst], FILL_PARAMS.pack({ count: k, start, step, first: lo }), grid1D(k, 256));
  }
}
