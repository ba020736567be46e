import { type NDArray, broadcastShapes, broadcastStrides, forEachBroadcast, nd } from './core.ts';
import { matmul } from './matmul.ts';
import { transpose } from './shape.ts';
import { softmax } from './softmax.ts';

export interface AttentionOptions {
  /** Broadcasts to [..., Lq, Lk]. */
  mask?: NDArray;
  /** Required with `mask`: 'bool' = nonzero keeps the key, 'additive' = added to the scores. */
  maskKind?: 'bool' | 'additive';
  /** Query i sees keys j <= i (top-left aligned, as torch's is_causal). */
  causal?: boolean;
  /** Defaults to 1/sqrt(D). */
  scale?: number;
}

/**
 * softmax(q kᵀ · scale + mask) with q [..., Lq, D], k [..., Lk, D]. Rows with every key masked give
 * NaN, as PyTorch.
 */
export function attentionProbs(q: NDArray, k: NDArray, opts: AttentionOptions = {}): NDArray {
  const D = q.shape[q.shape.length - 1];
  if (k.shape[k.shape.length - 1] !== D) throw new Error('attention: q and k must share the last dim');
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const scores = matmul(q, transpose(k, -2, -1));
  const [Lq, Lk] = scores.shape.slice(-2);
  for (let i = 0; i < scores.data.length; i++) {
    scores.data[i] *= scale;
    if (opts.causal) {
      const row = Math.floor(i / Lk) % Lq;
      if (i % Lk > row) scores.data[i] = -Infinity;
    }
  }
  return softmax(opts.mask ? applyMask(scores, opts.mask, opts.maskKind) : scores, -1);
}

function applyMask(scores: NDArray, mask: NDArray, kind: AttentionOptions['maskKind']): NDArray {
  if (kind === undefined) throw new Error("attention: maskKind ('bool' or 'additive') is required with a mask");
  const shape = broadcastShapes(scores.shape, mask.shape);
  const out = nd(shape);
  const strides = [broadcastStrides(scores.shape, shape), broadcastStrides(mask.shape, shape)];
  forEachBroadcast(shape, strides, (i, [s, m]) => {
    const mv = mask.data[m];
    out.data[i] = kind === 'bool' ? (mv !== 0 ? scores.data[s] : -Infinity) : scores.data[s] + mv;
  });
  return out;
}

/** F.scaled_dot_product_attention: attentionProbs(q, k) @ v with v [..., Lk, Dv]. */
export function scaledDotProductAttention(q: NDArray, k: NDArray, v: NDArray, opts: AttentionOptions = {}): NDArray {
  return matmul(attentionProbs(q, k, opts), v);
}
