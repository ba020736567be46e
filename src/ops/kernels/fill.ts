// The creation kernels. shaders/fill.wgsl: dst[i] = start + (first + i) · step over a tensor, range by
// range where it is larger than one binding (the creation ops and ops that need a zeroed output).
// shaders/random.wgsl: uniform or normal values from (seed, element index).
import type { Tensor } from '../../autograd/tensor.js';
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

const RANDOM_PARAMS = defineParams('RandomParams', { n: 'u32', seedLo: 'u32', seedHi: 'u32', kind: 'u32', p0: 'f32', p1: 'f32' });

/** Fills f32 `t` with uniform [p0, p1) (kind 0) or normal (mean p0, std p1; kind 1) values of `seed`. */
export function randomFill(t: Tensor, seed: number, kind: 0 | 1, p0: number, p1: number): void {
  if (!t.size) return;
  const params = RANDOM_PARAMS.pack({ n: t.size, seedLo: seed >>> 0, seedHi: Math.floor(seed / 2 ** 32) >>> 0, kind, p0, p1 });
  launch(t.ctx, shader('random', {}, RANDOM_PARAMS), [t.buffer], params, grid1D(t.size, 256));
}
