import { fusedOrComposed, record } from '../autograd/record.js';
import { Tensor } from '../autograd/tensor.js';
import { exp, mul, sub } from './elementwise.js';
import { sum } from './reduce.js';
import { reshape } from './shape.js';
import { assertFloat, normAxis } from './util.js';
import { softmaxRows } from './kernels/softmax.js';

// softmax / logSoftmax along any axis: one fused kernel for the forward and one for the backward
// (kernels/softmax.ts). A row is the elements along the axis (strided by the product of the later axes).

function prepare(op: string, x: Tensor, axis: number): number {
  assertFloat(op, x);
  // A 0-d tensor is one row of one element (as torch, which accepts dim 0 or -1).
  return x.ndim === 0 ? (normAxis(op, axis, 1), -1) : normAxis(op, axis, x.ndim);
}

/**
 * Softmax along `axis` (default: the last), max-subtracted. A row of all -inf gives NaN, as PyTorch.
 * The vjp, y·(g − Σ g·y), runs as one fused kernel; when the backward pass is itself recorded
 * (createGraph) it is built from differentiable ops instead, so higher-order gradients work.
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  const a = prepare('softmax', x, axis);
  if (a < 0) return softmax1(x, 'softmax');
  const y = softmaxRows('softmax', x, null, a);
  return record('softmax', [x], y, (g) => [
    fusedOrComposed(() => softmaxRows('softmaxBackward', y, g, a), () => mul(y, sub(g, sum(mul(g, y), a, true)))),
  ]);
}

/** log(softmax(x)) along `axis`, computed as x − max − log Σ exp(x − max). vjp: g − exp(y)·Σ g. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const a = prepare('logSoftmax', x, axis);
  if (a < 0) return softmax1(x, 'logSoftmax');
  const y = softmaxRows('logSoftmax', x, null, a);
  return record('logSoftmax', [x], y, (g) => [
    fusedOrComposed(() => softmaxRows('logSoftmaxBackward', y, g, a), () => sub(g, mul(exp(y), sum(g, a, true)))),
  ]);
}

/** 0-d input: the same computation on a [1] view. */
function softmax1(x: Tensor, op: 'softmax' | 'logSoftmax'): Tensor {
  const v = reshape(x, [1]);
  const y = op === 'softmax' ? softmax(v, 0) : logSoftmax(v, 0);
  v.dispose();
  const r = reshape(y, []);
  y.dispose();
  return r;
}
