// The timestep-features kernel (shaders/embed_timestep.wgsl).
import type { Tensor } from '../../autograd/tensor.js';
import { defineParams } from '../../gpu/wgsl.js';
import { grid1D, launch, shader } from '../util.js';

const TIMESTEP_PARAMS = defineParams('TimestepParams', { n: 'u32', half: 'u32', dim: 'u32', flip: 'u32', scale: 'f32' });

/** out [n, dim] = [sin | cos](scale · t · freqs) of the n timesteps t (i32 or f32), cos first with `flip`. */
export function timestepKernel(t: Tensor, freqs: Tensor, out: Tensor, o: { flip: boolean; scale: number }): void {
  const [n, dim] = out.shape;
  const half = freqs.size;
  const params = TIMESTEP_PARAMS.pack({ n: n * half, half, dim, flip: o.flip, scale: o.scale });
  launch(t.ctx, shader('embed_timestep', { IT: t.dtype }, TIMESTEP_PARAMS), [t.buffer, freqs.buffer, out.buffer], params, grid1D(n * half, 64));
}
