// The engine's own arithmetic — summing gradients, seeding a one-element output with 1, copying a
// result out — on one small kernel (shaders/accumulate.wgsl), so that autograd needs nothing from
// src/ops. Tensors past one binding are processed range by range.
import type { GpuContext } from '../gpu/context.js';
import { bindingChunks, grid1D, launch, rangeOf } from '../gpu/kernel.js';
import { defineParams, shader } from '../gpu/wgsl.js';
import { record } from './record.js';
import { Tensor, shapeStr } from './tensor.js';

const ACCUMULATE_PARAMS = defineParams('AccumulateParams', { n: 'u32', fill: 'u32', value: 'f32' });

/** Sums a and b into out, or (a = b = null) fills out with `value`. */
function run(ctx: GpuContext, a: GPUBuffer | null, b: GPUBuffer | null, out: Tensor, value = 0): void {
  const code = shader('accumulate', {}, ACCUMULATE_PARAMS);
  const unused = ctx.constantBuffer('placeholder', 16);
  for (const [lo, k] of bindingChunks(ctx, out.size, 4)) {
    const part = (buf: GPUBuffer | null) => (!buf ? unused : k === out.size ? buf : rangeOf(buf, lo, k, 4));
    launch(ctx, code, [part(a), part(b), part(out.buffer)], ACCUMULATE_PARAMS.pack({ n: k, fill: !a, value }), grid1D(k, 256));
  }
}

/** a + b for two gradients of one shape; recorded (each input's vjp is the incoming gradient) under createGraph. */
export function addGrads(a: Tensor, b: Tensor): Tensor {
  if (a.shape.join() !== b.shape.join() || a.dtype !== 'f32' || b.dtype !== 'f32') {
    throw new Error(`cflens: internal: gradients ${a.dtype} ${shapeStr(a.shape)} and ${b.dtype} ${shapeStr(b.shape)} cannot be summed`);
  }
  const out = Tensor.empty(a.shape, 'f32', a.ctx);
  if (out.size) run(a.ctx, a.buffer, b.buffer, out);
  return record('add', [a, b], out, (g) => [g, g]);
}

/** A tensor of `t`'s shape filled with `value` (not recorded: a constant). */
export function filledLike(t: Tensor, value: number): Tensor {
  const out = Tensor.empty(t.shape, 'f32', t.ctx);
  if (out.size) run(t.ctx, null, null, out, value);
  return out;
}

/** A copy of a gradient the caller may own; recorded as the identity under createGraph. */
export function copyGrad(g: Tensor): Tensor {
  const out = Tensor.empty(g.shape, 'f32', g.ctx);
  if (out.size) g.ctx.copyBuffer(g.buffer, 0, out.buffer, 0, out.size * 4);
  return record('copy', [g], out, (gg) => [gg]);
}
