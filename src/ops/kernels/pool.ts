// The pooling kernels (shaders/pool.wgsl): one kernel with a mode per pass.
import type { Tensor } from '../../autograd/tensor.js';
import type { GpuContext } from '../../gpu/context.js';
import { defineParams } from '../../gpu/wgsl.js';
import { grid1D, launch, shader } from '../util.js';

/** A pooling's geometry: NCHW input, output OH×OW, kernel, stride, padding, dilation; the divisor rule. */
export interface PoolGeom {
  N: number; C: number; H: number; W: number; OH: number; OW: number;
  kh: number; kw: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
  countIncludePad: boolean; divisor: number;
}

/** pool.wgsl's modes: the average, max (with argmax) and adaptive passes and their adjoints. */
const POOL_MODES = { avg: 0, avgBackward: 1, max: 2, maxScatter: 3, maxGather: 4, adaptive: 5, adaptiveBackward: 6 } as const;
export type PoolMode = keyof typeof POOL_MODES;

/** Bound where no argmax is kept. */
const dummy = (ctx: GpuContext): GPUBuffer => ctx.constantBuffer('placeholder', 16);

/** pool.wgsl's parameters; `divisor` 0 means none (the window's own count). */
const POOL_PARAMS = defineParams('PoolParams', {
  count: 'u32', H: 'i32', W: 'i32', OH: 'i32', OW: 'i32', kh: 'i32', kw: 'i32', sh: 'i32', sw: 'i32',
  ph: 'i32', pw: 'i32', dh: 'i32', dw: 'i32', countIncludePad: 'u32', divisor: 'f32',
});

/** Runs one pool.wgsl mode; `count` threads, output `out`, optional argmax buffer. */
export function poolKernel(mode: PoolMode, g: PoolGeom, src: Tensor, out: Tensor, arg: Tensor | null): void {
  if (!out.size) return;
  const params = POOL_PARAMS.pack({ count: out.size, ...g });
  const code = shader('pool', { MODE: POOL_MODES[mode] }, POOL_PARAMS);
  launch(src.ctx, code, [src.buffer, out.buffer, arg?.buffer ?? dummy(src.ctx)], params, grid1D(out.size, 256));
}
