import { tidy } from '../autograd/scope.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { fromArray } from './creation.js';
import { abs, add, div, exp, log, maximum, mul, neg, relu, sqrt, sub } from './elementwise.js';
import { gather } from './gather.js';
import { logSoftmax } from './softmax.js';
import { mean, sum } from './reduce.js';
import { unsqueeze, squeeze } from './shape.js';
import { assertFloat } from './util.js';

export type Reduction = 'mean' | 'sum' | 'none';

function reduce(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss;
  return reduction === 'sum' ? sum(loss) : mean(loss);
}

/**
 * Cross-entropy of logits [N, C] or [N, C, d1, …] against class indices ([N] / [N, d1, …], i32 tensor or
 * numbers) or soft targets (f32, the logits' shape), as torch.nn.functional.cross_entropy.
 */
export function crossEntropy(logits: Tensor, target: Tensor | readonly number[], { reduction = 'mean' }: { reduction?: Reduction } = {}): Tensor {
  assertFloat('crossEntropy', logits);
  if (logits.ndim < 2) throw new Error(`cflens: crossEntropy: logits must be [N, C, ...], got ${shapeStr(logits.shape)}`);
  return tidy(() => {
    const logp = logSoftmax(logits, 1);
    const t = target instanceof Tensor ? target : fromArray(Int32Array.from(target), [target.length], { ctx: logits.ctx });
    if (t.dtype === 'f32' && t.shape.join() === logits.shape.join()) {
      return reduce(neg(sum(mul(t, logp), 1)), reduction);
    }
    const expected = [logits.shape[0], ...logits.shape.slice(2)];
    if (t.shape.join() !== expected.join()) {
      throw new Error(`cflens: crossEntropy: class-index target ${shapeStr(t.shape)} must be ${shapeStr(expected)} for logits ${shapeStr(logits.shape)} (or soft targets of the logits' shape)`);
    }
    const picked = squeeze(gather(logp, 1, unsqueeze(t, 1)), 1);
    return reduce(neg(picked), reduction);
  });
}

/** Stable BCE on logits with optional pos_weight, as torch's binary_cross_entropy_with_logits. */
export function binaryCrossEntropyWithLogits(x: Tensor, y: Tensor, { reduction = 'mean', posWeight }: { reduction?: Reduction; posWeight?: Tensor | number } = {}): Tensor {
  assertFloat('binaryCrossEntropyWithLogits', x, y);
  return tidy(() => {
    // log(1 + e^{-x}) = log(1 + e^{-|x|}) + max(-x, 0)
    const logSigNeg = add(log(add(exp(neg(abs(x))), 1)), relu(neg(x)));
    const w = posWeight === undefined ? null : add(mul(sub(posWeight, 1), y), 1);
    const loss = add(mul(sub(1, y), x), w ? mul(w, logSigNeg) : logSigNeg);
    return reduce(loss, reduction);
  });
}

export function mseLoss(a: Tensor, b: Tensor, { reduction = 'mean' }: { reduction?: Reduction } = {}): Tensor {
  return tidy(() => {
    const d = sub(a, b);
    return reduce(mul(d, d), reduction);
  });
}

export function l1Loss(a: Tensor, b: Tensor, { reduction = 'mean' }: { reduction?: Reduction } = {}): Tensor {
  return tidy(() => reduce(abs(sub(a, b)), reduction));
}

/** a·b / max(‖a‖·‖b‖, eps) along `dim`, broadcasting a and b (torch.nn.functional.cosine_similarity). */
export function cosineSimilarity(a: Tensor, b: Tensor, dim = 1, eps = 1e-8): Tensor {
  return tidy(() => {
    const w12 = sum(mul(a, b), dim);
    const n = sqrt(mul(sum(mul(a, a), dim), sum(mul(b, b), dim)));
    return div(w12, maximum(n, eps));
  });
}
