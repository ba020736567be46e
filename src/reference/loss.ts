import { type NDArray, type Operand, broadcastShapes, nd, normAxis, numel, shapesEqual } from './core.ts';
import { abs, mul, sqrt, square, sub, zipBroadcast } from './elementwise.ts';
import { mean, sum } from './reduce.ts';
import { broadcastTo } from './shape.ts';
import { logSoftmax } from './softmax.ts';

export type Reduction = 'mean' | 'sum' | 'none';

export interface ReductionOptions {
  reduction?: Reduction;
}

/** 'mean'/'sum' give a 0-d array. */
export function reduceLoss(loss: NDArray, reduction: Reduction = 'mean'): NDArray {
  if (reduction === 'none') return loss;
  return reduction === 'sum' ? sum(loss) : mean(loss);
}

export interface CrossEntropyOptions extends ReductionOptions {
  labelSmoothing?: number;
  /** Class-index targets only; default -100 as torch. */
  ignoreIndex?: number;
}

/**
 * F.cross_entropy over logits [N, C, d...] (or unbatched [C]). A target with the logits' shape
 * holds class probabilities; otherwise it holds class indices of shape [N, d...].
 */
export function crossEntropy(logits: NDArray, target: NDArray, opts: CrossEntropyOptions = {}): NDArray {
  const { reduction = 'mean', labelSmoothing: eps = 0, ignoreIndex = -100 } = opts;
  const classAxis = logits.shape.length === 1 ? 0 : 1;
  const C = logits.shape[classAxis];
  const outer = numel(logits.shape.slice(0, classAxis));
  const inner = numel(logits.shape.slice(classAxis + 1));
  const sampleShape = logits.shape.filter((_, i) => i !== classAxis);
  const logp = logSoftmax(logits, classAxis).data;
  const at = (sample: number, c: number) => logp[(Math.floor(sample / inner) * C + c) * inner + (sample % inner)];
  const samples = outer * inner;
  const perSample = nd(sampleShape);

  if (shapesEqual(target.shape, logits.shape)) {
    for (let s = 0; s < samples; s++) {
      let acc = 0;
      for (let c = 0; c < C; c++) {
        const p = target.data[(Math.floor(s / inner) * C + c) * inner + (s % inner)];
        acc -= (p * (1 - eps) + eps / C) * at(s, c);
      }
      perSample.data[s] = acc;
    }
    return reduceLoss(perSample, reduction);
  }

  if (!shapesEqual(target.shape, sampleShape)) {
    throw new Error(`crossEntropy: target [${target.shape.join(', ')}] fits neither [${logits.shape.join(', ')}] nor [${sampleShape.join(', ')}]`);
  }
  // (1 − ε)·nll + ε/C·(−Σ_c log p_c), ignored samples contributing 0 and not counted by 'mean'.
  let kept = 0;
  for (let s = 0; s < samples; s++) {
    const y = target.data[s];
    if (y === ignoreIndex) continue;
    if (!Number.isInteger(y) || y < 0 || y >= C) throw new Error(`crossEntropy: target ${y} out of range [0, ${C})`);
    let smooth = 0;
    for (let c = 0; c < C; c++) smooth -= at(s, c);
    perSample.data[s] = -(1 - eps) * at(s, y) + (eps / C) * smooth;
    kept++;
  }
  if (reduction === 'none') return perSample;
  const total = sum(perSample);
  return reduction === 'sum' ? total : nd([], [total.data[0] / kept]);
}

export interface BceWithLogitsOptions extends ReductionOptions {
  /** Weight of positive examples, broadcast over the last dim(s). */
  posWeight?: Operand;
  /** Elementwise rescaling of the loss. */
  weight?: Operand;
}

/** F.binary_cross_entropy_with_logits: (1 − y)·x + (1 + (pw − 1)·y)·softplus(−x), computed stably. */
export function binaryCrossEntropyWithLogits(x: NDArray, y: NDArray, opts: BceWithLogitsOptions = {}): NDArray {
  const softplusNeg = (v: number) => Math.max(-v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
  let loss = zipBroadcast([x, y, opts.posWeight ?? 1], (v, t, pw) => (1 - t) * v + (1 + (pw - 1) * t) * softplusNeg(v));
  if (opts.weight !== undefined) loss = mul(loss, opts.weight);
  return reduceLoss(loss, opts.reduction);
}

export function mseLoss(a: NDArray, b: NDArray, opts: ReductionOptions = {}): NDArray {
  return reduceLoss(square(sub(a, b)), opts.reduction);
}

export function l1Loss(a: NDArray, b: NDArray, opts: ReductionOptions = {}): NDArray {
  return reduceLoss(abs(sub(a, b)), opts.reduction);
}

/** F.cosine_similarity as in PyTorch 1.13: a·b / max(‖a‖·‖b‖, eps) along `dim` (inputs broadcast). */
export function cosineSimilarity(a: NDArray, b: NDArray, dim = 1, eps = 1e-8): NDArray {
  const shape = broadcastShapes(a.shape, b.shape);
  const [x1, x2] = [broadcastTo(a, shape), broadcastTo(b, shape)];
  const d = normAxis(dim, shape.length);
  const dot = sum(mul(x1, x2), d);
  const normProduct = sqrt(mul(sum(square(x1), d), sum(square(x2), d)));
  return zipBroadcast([dot, normProduct], (num, den) => num / Math.max(den, eps));
}
