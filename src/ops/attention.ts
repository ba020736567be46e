import { tidy } from '../autograd/scope.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { fromArray } from './creation.js';
import { add, mul, where } from './elementwise.js';
import { mm } from './matmul.js';
import { softmax } from './softmax.js';

export interface AttentionOptions {
  /** Broadcastable to [..., Lq, Lk]: with maskKind 'bool' 1 keeps and 0 masks; 'additive' is added to the logits. */
  mask?: Tensor;
  maskKind?: 'bool' | 'additive';
  /** Mask keys after each query (torch's is_causal: tril of ones(Lq, Lk)). */
  causal?: boolean;
  /** Logit scale, default D^-0.5. */
  scale?: number;
  /** Reads and may replace the probabilities [..., Lq, Lk] (prompt-to-prompt); return nothing to keep them. */
  probsHook?: (probs: Tensor) => Tensor | void;
}

function causalMask(lq: number, lk: number, like: Tensor): Tensor {
  const m = new Float32Array(lq * lk);
  for (let i = 0; i < lq; i++) for (let j = 0; j < lk; j++) m[i * lk + j] = j <= i ? 1 : 0;
  return fromArray(m, [lq, lk], { ctx: like.ctx });
}

/** softmax(q·kᵀ·scale + mask) — differentiable; shapes q [..., Lq, D], k [..., Lk, D]. */
export function attentionProbs(q: Tensor, k: Tensor, o: AttentionOptions = {}): Tensor {
  const d = q.shape[q.ndim - 1];
  if (k.shape[k.ndim - 1] !== d) throw new Error(`cflens: attention: query ${shapeStr(q.shape)} and key ${shapeStr(k.shape)} have different head sizes`);
  return tidy(() => {
    let logits = mul(mm(q, k, { transB: true }), o.scale ?? 1 / Math.sqrt(d));
    const lq = q.shape[q.ndim - 2];
    const lk = k.shape[k.ndim - 2];
    const neg = -3.4028234663852886e38;
    if (o.mask) {
      if ((o.maskKind ?? 'additive') === 'bool') logits = where(o.mask, logits, neg);
      else logits = add(logits, o.mask);
    }
    if (o.causal) logits = where(causalMask(lq, lk, q), logits, neg);
    return softmax(logits, -1);
  });
}

/** probs · v */
export function attentionWithProbs(probs: Tensor, v: Tensor): Tensor {
  return mm(probs, v);
}

/**
 * Multi-head scaled dot-product attention (self or cross: Lk may differ from Lq), as
 * torch.nn.functional.scaled_dot_product_attention, with an optional probabilities hook.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  if (k.shape[k.ndim - 2] !== v.shape[v.ndim - 2]) throw new Error(`cflens: attention: key ${shapeStr(k.shape)} and value ${shapeStr(v.shape)} have different lengths`);
  return tidy(() => {
    let p = attentionProbs(q, k, o);
    if (o.probsHook) p = o.probsHook(p) ?? p;
    return attentionWithProbs(p, v);
  });
}
