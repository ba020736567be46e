import { tidy } from '../autograd/scope.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { cast } from './cast.js';
import { fromArray } from './creation.js';
import { abs, add, clamp, div, exp, log, mul, ne, neg, relu, sqrt, sub } from './elementwise.js';
import { gather } from './gather.js';
import { logSoftmax } from './softmax.js';
import { mean, sum } from './reduce.js';
import { broadcastTo, squeeze, unsqueeze } from './shape.js';
import { assertFloat, broadcastShapes, sameCtx, sameShape, type TensorLike } from './util.js';

// Losses composed of differentiable ops (fused softmax / gather underneath), so every gradient,
// including higher-order ones, follows from the ops' vjps. PyTorch semantics throughout.

export type Reduction = 'mean' | 'sum' | 'none';

function reduce(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss;
  if (reduction !== 'sum' && reduction !== 'mean') throw new Error(`cflens: loss: unknown reduction '${reduction as string}' (mean, sum, none)`);
  return reduction === 'sum' ? sum(loss) : mean(loss);
}

export interface CrossEntropyOptions {
  reduction?: Reduction;
  /** Class-index targets equal to this are ignored (contribute 0, not counted by 'mean'); default -100. */
  ignoreIndex?: number;
  /** ε: the target becomes (1 − ε)·target + ε/C. */
  labelSmoothing?: number;
}

/**
 * torch.nn.functional.cross_entropy of logits [N, C] or [N, C, d1, …] against class indices
 * ([N] / [N, d1, …]: an i32 tensor, an f32 tensor holding integers, or CPU integers) or soft targets
 * (f32, the logits' shape: class probabilities, differentiable too).
 */
export function crossEntropy(logits: Tensor, target: Tensor | readonly number[] | Int32Array, opts: CrossEntropyOptions = {}): Tensor {
  const { reduction = 'mean', ignoreIndex = -100, labelSmoothing = 0 } = opts;
  assertFloat('crossEntropy', logits);
  if (logits.ndim < 2) throw new Error(`cflens: crossEntropy: logits must be [N, C, ...], got ${shapeStr(logits.shape)}`);
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new Error(`cflens: crossEntropy: label smoothing must be in [0, 1], got ${labelSmoothing}`);
  const C = logits.shape[1];
  const expected = [logits.shape[0], ...logits.shape.slice(2)];
  if (!(target instanceof Tensor)) {
    if (target.length !== expected.reduce((a, b) => a * b, 1)) {
      throw new Error(`cflens: crossEntropy: ${target.length} class indices for logits ${shapeStr(logits.shape)} (need ${shapeStr(expected)})`);
    }
    for (let k = 0; k < target.length; k++) {
      const t = target[k];
      if (t !== ignoreIndex && (!Number.isInteger(t) || t < 0 || t >= C)) {
        throw new Error(`cflens: crossEntropy: class index ${t} (position ${k}) is out of range for ${C} classes`);
      }
    }
  } else {
    sameCtx('crossEntropy', logits, target);
  }
  return tidy(() => {
    const logp = logSoftmax(logits, 1);
    const t = target instanceof Tensor ? target : fromArray(Int32Array.from(target), expected, { ctx: logits.ctx });
    if (t.dtype === 'f32' && sameShape(t.shape, logits.shape)) {
      const soft = labelSmoothing ? add(mul(t, 1 - labelSmoothing), labelSmoothing / C) : t;
      return reduce(neg(sum(mul(soft, logp), 1)), reduction);
    }
    if (!sameShape(t.shape, expected)) {
      throw new Error(
        `cflens: crossEntropy: class-index target ${shapeStr(t.shape)} must be ${shapeStr(expected)} for logits ${shapeStr(logits.shape)} ` +
        "(or soft targets of the logits' shape)",
      );
    }
    // Ignored positions gather some clamped class and are masked out.
    const keep = ne(t.dtype === 'f32' ? t : cast(t, 'f32'), ignoreIndex);
    let nll = neg(squeeze(gather(logp, 1, unsqueeze(t, 1)), 1));
    if (labelSmoothing) nll = add(mul(nll, 1 - labelSmoothing), mul(neg(sum(logp, 1)), labelSmoothing / C));
    const loss = mul(nll, keep);
    if (reduction === 'mean') return div(sum(loss), sum(keep));
    return reduce(loss, reduction);
  });
}

export interface BceWithLogitsOptions {
  reduction?: Reduction;
  /** Weight of positive examples (broadcast against the loss). */
  posWeight?: TensorLike;
  /** Rescaling of each element's loss (broadcast). */
  weight?: TensorLike;
}

/**
 * torch.nn.functional.binary_cross_entropy_with_logits in the stable form
 * (1 − y)·x + (1 + (pw − 1)·y)·(log(1 + e^{−|x|}) + max(−x, 0)).
 */
export function binaryCrossEntropyWithLogits(x: Tensor, y: Tensor, { reduction = 'mean', posWeight, weight }: BceWithLogitsOptions = {}): Tensor {
  assertFloat('binaryCrossEntropyWithLogits', x, y);
  if (!sameShape(x.shape, y.shape)) throw new Error(`cflens: binaryCrossEntropyWithLogits: input ${shapeStr(x.shape)} and target ${shapeStr(y.shape)} differ`);
  return tidy(() => {
    const softplusNeg = add(log(add(exp(neg(abs(x))), 1)), relu(neg(x)));
    const w = posWeight === undefined ? null : add(mul(y, typeof posWeight === 'number' ? posWeight - 1 : sub(posWeight, 1)), 1);
    let loss = add(mul(sub(1, y), x), w ? mul(w, softplusNeg) : softplusNeg);
    if (weight !== undefined) loss = mul(loss, weight);
    return reduce(loss, reduction);
  });
}

function checkPair(op: string, a: Tensor, b: Tensor): void {
  assertFloat(op, a, b);
  if (!sameShape(a.shape, b.shape)) throw new Error(`cflens: ${op}: input ${shapeStr(a.shape)} and target ${shapeStr(b.shape)} differ`);
}

/** Mean (or sum) of squared differences. */
export function mseLoss(a: Tensor, b: Tensor, { reduction = 'mean' }: { reduction?: Reduction } = {}): Tensor {
  checkPair('mseLoss', a, b);
  return tidy(() => {
    const d = sub(a, b);
    return reduce(mul(d, d), reduction);
  });
}

/** Mean (or sum) of absolute differences; the gradient at a = b is 0, as PyTorch. */
export function l1Loss(a: Tensor, b: Tensor, { reduction = 'mean' }: { reduction?: Reduction } = {}): Tensor {
  checkPair('l1Loss', a, b);
  return tidy(() => reduce(abs(sub(a, b)), reduction));
}

/**
 * torch.nn.functional.cosine_similarity with PyTorch 1.13 semantics: Σ a·b / sqrt(max(Σa²·Σb², eps²))
 * along `dim`, a and b broadcast. The clamp comes before the square root, so zero vectors give 0 with
 * a finite gradient.
 */
export function cosineSimilarity(a: Tensor, b: Tensor, dim = 1, eps = 1e-8): Tensor {
  assertFloat('cosineSimilarity', a, b);
  sameCtx('cosineSimilarity', a, b);
  return tidy(() => {
    // dim refers to the broadcast shape.
    if (!sameShape(a.shape, b.shape)) {
      const shape = broadcastShapes('cosineSimilarity', a.shape, b.shape);
      a = broadcastTo(a, shape);
      b = broadcastTo(b, shape);
    }
    const w12 = sum(mul(a, b), dim);
    const w1 = sum(mul(a, a), dim);
    const w2 = sum(mul(b, b), dim);
    return div(w12, sqrt(clamp(mul(w1, w2), eps * eps)));
  });
}
