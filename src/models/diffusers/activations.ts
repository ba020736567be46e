import type { Tensor } from '../../autograd/tensor.js';
import { gelu, mish, silu } from '../../ops/activation.js';
import { relu } from '../../ops/elementwise.js';

/** diffusers' act_fn names. */
export function activation(name: string, x: Tensor): Tensor {
  switch (name) {
    case 'silu':
    case 'swish':
      return silu(x);
    case 'gelu':
      return gelu(x);
    case 'relu':
      return relu(x);
    case 'mish':
      return mish(x);
    default:
      throw new Error(`cflens: unsupported activation '${name}' (silu, swish, gelu, relu, mish)`);
  }
}
