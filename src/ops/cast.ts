import { record } from '../autograd/record.js';
import { Tensor, type DType } from '../autograd/tensor.js';
import { castKernel } from './kernels/cast.js';

/** Converts to another dtype; gradients flow through float conversions. */
export function cast(x: Tensor, to: DType): Tensor {
  x.assertAlive('cast');
  if (x.dtype === to) return x.detach();
  const y = Tensor.empty(x.shape, to, x.ctx);
  castKernel(x, y);
  if (to === 'i32' || x.dtype === 'i32') return y;
  return record('cast', [x], y, (g) => [cast(g, x.dtype)]);
}
