// The optimisers' in-place kernels (shaders/optim.wgsl, project.wgsl): no tape, they update leaves.
import type { Tensor } from '../../autograd/tensor.js';
import { bindingChunks, rangeOf } from '../../gpu/kernel.js';
import { full } from '../creation.js';
import { defineParams, type ParamValues } from '../../gpu/wgsl.js';
import { grid1D, launch, shader } from '../util.js';

/**
 * optim.wgsl's hyper-parameters: b1, b2 are Adam's betas (SGD: momentum, dampening), bc1, bc2 Adam's bias
 * corrections; flags as optim.wgsl lists them.
 */
const OPTIM_PARAMS = defineParams('OptimParams', {
  n: 'u32', lr: 'f32', b1: 'f32', b2: 'f32', eps: 'f32', weightDecay: 'f32', bc1: 'f32', bc2: 'f32', flags: 'u32',
});
export type OptimHyper = Omit<ParamValues<typeof OPTIM_PARAMS.fields>, 'n'>;

const PROJECT_PARAMS = defineParams('ProjectParams', { n: 'u32', lo: 'f32', hi: 'f32', radius: 'f32', hasCenter: 'u32' });

/**
 * One fused update of parameter `p` from `grad` and its state `m`, `v` (MODE: 0 SGD, 1 Adam/AdamW, 2 sign
 * step). Parameters larger than one binding (a big vocabulary's embedding) are updated range by range.
 */
export function optimizerStep(mode: number, p: Tensor, grad: Tensor, m: Tensor, v: Tensor, hyper: OptimHyper): void {
  const code = shader('optim', { MODE: mode }, OPTIM_PARAMS);
  for (const [lo, k] of bindingChunks(p.ctx, p.size, 4)) {
    const part = (t: Tensor) => (k === p.size || t.size !== p.size ? t.buffer : rangeOf(t.buffer, lo, k, 4));
    launch(p.ctx, code, [part(p), part(grad), part(m), part(v)], OPTIM_PARAMS.pack({ n: k, ...hyper }), grid1D(k, 256));
  }
}

/** In place: x clamped to [lo, hi] and, with `center`, projected onto the L∞ ball of `radius` around it. */
export function projectKernel(x: Tensor, lo: number, hi: number, center: Tensor | null, radius: number): void {
  const c = center ?? full([1], 0, { ctx: x.ctx });
  const params = PROJECT_PARAMS.pack({ n: x.size, lo, hi, radius, hasCenter: center !== null });
  launch(x.ctx, shader('project', {}, PROJECT_PARAMS), [x.buffer, c.buffer], params, grid1D(x.size, 256));
  if (!center) c.dispose();
}
