// Scaled dot-product attention: a fused flash-style path (forward and backward kernels that never
// hold an Lq×Lk buffer) and the unfused composition matmul → softmax → matmul, which is what the
// probabilities hook (prompt-to-prompt) and the reference comparisons use.
//
// Conventions (as torch.nn.functional.scaled_dot_product_attention):
//   q [..., Lq, D], k [..., Lk, D], v [..., Lk, Dv] (leading batch·head dims broadcast), out [..., Lq, Dv];
//   scale defaults to D^-0.5; `mask` broadcasts to [..., Lq, Lk] and is additive (added to the scaled
//   logits) unless `maskKind: 'bool'`, where 1 keeps a key and 0 masks it (f32 0/1 values);
//   `causal` keeps key j for query i when j <= i (tril(ones(Lq, Lk)), top-left aligned when Lq != Lk).
//   A query row whose keys are all masked gives NaN (as PyTorch's math path and src/reference).
//
// The fused path's kernels, their choice and launches are in kernels/attention.ts.
import { fusedOrComposed, record } from '../autograd/record.js';
import { tidy } from '../autograd/scope.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { fromArray } from './creation.js';
import { add, mul, sub, where } from './elementwise.js';
import { mm } from './matmul.js';
import { sum } from './reduce.js';
import { broadcastTo } from './shape.js';
import { softmax } from './softmax.js';
import { assertFloat, broadcastShapes, sameCtx, sameShape } from './util.js';
import { fusable, fusedBackward, fusedForward, preferUnfused, type AttentionDims, type Fused } from './kernels/attention.js';

export interface AttentionOptions {
  /**
   * Broadcastable to [..., Lq, Lk]. Additive by default (added to the scaled logits, PyTorch's float
   * mask); with `maskKind: 'bool'` 1 keeps and 0 masks (PyTorch's bool mask, True = take part).
   */
  mask?: Tensor;
  maskKind?: 'bool' | 'additive';
  /** Mask keys after each query (torch's is_causal: tril of ones(Lq, Lk)). */
  causal?: boolean;
  /** Logit scale, default D^-0.5. */
  scale?: number;
  /**
   * Reads and may replace the probabilities [..., Lq, Lk] (prompt-to-prompt); return nothing to keep
   * them. Switches scaledDotProductAttention to the unfused path; everything stays differentiable.
   */
  probsHook?: (probs: Tensor) => Tensor | void;
  /**
   * 'auto' (default): fused unless a probsHook is given or the mask requires grad (and, on CPU adapters,
   * unless the Lq×Lk logits take at most 64 MiB: the unfused path is faster there); 'fused' insists
   * (throws where it cannot); 'unfused': the matmul → softmax → matmul composition.
   */
  impl?: 'auto' | 'fused' | 'unfused';
}

function dimsOf(op: string, q: Tensor, k: Tensor, v?: Tensor): AttentionDims {
  assertFloat(op, q, k, ...(v ? [v] : []));
  sameCtx(op, q, k, ...(v ? [v] : []));
  const all = v ? [q, k, v] : [q, k];
  if (all.some((t) => t.ndim < 2)) {
    throw new Error(
      `cflens: ${op}: query ${shapeStr(q.shape)}, key ${shapeStr(k.shape)}${v ? `, value ${shapeStr(v.shape)}` : ''} must have rank ≥ 2 ([..., L, D])`,
    );
  }
  const d = q.shape[q.ndim - 1];
  if (k.shape[k.ndim - 1] !== d) throw new Error(`cflens: ${op}: query ${shapeStr(q.shape)} and key ${shapeStr(k.shape)} have different head sizes`);
  const lk = k.shape[k.ndim - 2];
  if (v && v.shape[v.ndim - 2] !== lk) throw new Error(`cflens: ${op}: key ${shapeStr(k.shape)} and value ${shapeStr(v.shape)} have different lengths`);
  let batch = broadcastShapes(op, q.shape.slice(0, -2), k.shape.slice(0, -2));
  if (v) batch = broadcastShapes(op, batch, v.shape.slice(0, -2));
  return { batch, lq: q.shape[q.ndim - 2], lk, d, dv: v ? v.shape[v.ndim - 1] : 0 };
}

function checkMask(op: string, mask: Tensor, target: readonly number[]): void {
  assertFloat(op, mask);
  const fits = mask.ndim <= target.length && mask.shape.every((d, i) => d === 1 || d === target[target.length - mask.ndim + i]);
  if (!fits) throw new Error(`cflens: ${op}: mask ${shapeStr(mask.shape)} does not broadcast to the logits' shape ${shapeStr(target)}`);
}

function causalMask(lq: number, lk: number, like: Tensor): Tensor {
  const m = new Float32Array(lq * lk);
  for (let i = 0; i < lq; i++) for (let j = 0; j <= Math.min(i, lk - 1); j++) m[i * lk + j] = 1;
  return fromArray(m, [lq, lk], { ctx: like.ctx });
}

// ---------------------------------------------------------------------------------------------
// Unfused composition (differentiable; the reference path)

/** softmax(q·kᵀ·scale + mask) — differentiable; shapes q [..., Lq, D], k [..., Lk, D] → [..., Lq, Lk]. */
export function attentionProbs(q: Tensor, k: Tensor, o: Pick<AttentionOptions, 'mask' | 'maskKind' | 'causal' | 'scale'> = {}): Tensor {
  const { batch, lq, lk, d } = dimsOf('attentionProbs', q, k);
  if (o.mask) checkMask('attentionProbs', o.mask, [...batch, lq, lk]);
  return tidy(() => {
    let logits = mul(mm(q, k, { transB: true }), o.scale ?? 1 / Math.sqrt(d));
    if (o.mask) logits = (o.maskKind ?? 'additive') === 'bool' ? where(o.mask, logits, -Infinity) : add(logits, o.mask);
    if (o.causal) logits = where(causalMask(lq, lk, q), logits, -Infinity);
    return softmax(logits, -1);
  });
}

/** probs · v: probs [..., Lq, Lk], v [..., Lk, Dv] → [..., Lq, Dv]. */
export function attentionWithProbs(probs: Tensor, v: Tensor): Tensor {
  return mm(probs, v);
}

/** The unfused composition (matmul → softmax → matmul), with the optional probabilities hook. */
export function attentionReference(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  dimsOf('attention', q, k, v);
  return tidy(() => {
    let p = attentionProbs(q, k, o);
    if (o.probsHook) p = o.probsHook(p) ?? p;
    return attentionWithProbs(p, v);
  });
}

/** The vjp written with differentiable ops (for createGraph / higher-order gradients). */
function composedVjp(f: Fused, g: Tensor): [Tensor, Tensor, Tensor] {
  const p = attentionProbs(f.q, f.k, { mask: f.mask ?? undefined, maskKind: f.maskKind, causal: f.causal, scale: f.scale });
  const gv = mm(p, g, { transA: true });
  const dp = mm(g, f.v, { transB: true });
  const ds = mul(p, sub(dp, sum(mul(dp, p), -1, true)));
  return [mul(mm(ds, f.k), f.scale), mul(mm(ds, f.q, { transA: true }), f.scale), gv];
}

/** Fused attention on q, k, v already broadcast to the common batch shape. */
function fusedAttention(f: Fused): Tensor {
  const { out, lse } = fusedForward(f);
  const saved = f.mask ? [lse, f.mask] : [lse];
  const y = record('attention', [f.q, f.k, f.v], out, (g) => fusedOrComposed(
    () => fusedBackward(f, out, lse, g, [f.q.requiresGrad, f.k.requiresGrad, f.v.requiresGrad]),
    () => composedVjp(f, g),
  ), saved);
  lse.dispose();
  return y;
}

/**
 * Multi-head scaled dot-product attention (self or cross: Lk may differ from Lq), as
 * torch.nn.functional.scaled_dot_product_attention. Runs the fused flash-style kernels unless a
 * probabilities hook is given (or `impl: 'unfused'`, or the mask requires grad).
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  const dims = dimsOf('attention', q, k, v);
  const { batch, lq, lk, d } = dims;
  if (o.mask) checkMask('attention', o.mask, [...batch, lq, lk]);
  const impl = o.impl ?? 'auto';
  const blockers: string[] = [];
  if (o.probsHook) blockers.push('a probsHook needs the probabilities');
  if (o.mask?.requiresGrad) blockers.push('the mask requires grad');
  if (!fusable(q, dims)) blockers.push(`sizes ${shapeStr(q.shape)}, ${shapeStr(k.shape)}, ${shapeStr(v.shape)} are empty or too large for the fused kernels`);
  if (impl === 'fused' && blockers.length) throw new Error(`cflens: attention: impl 'fused' is not possible: ${blockers.join('; ')}`);
  if (impl === 'unfused' || blockers.length || (impl === 'auto' && preferUnfused(q, dims))) return attentionReference(q, k, v, o);
  return tidy(() => {
    const expand = (t: Tensor) => (sameShape(t.shape.slice(0, -2), batch) ? t : broadcastTo(t, [...batch, ...t.shape.slice(-2)]));
    return fusedAttention({
      q: expand(q), k: expand(k), v: expand(v),
      mask: o.mask ?? null,
      maskKind: o.maskKind ?? 'additive',
      causal: !!o.causal,
      scale: o.scale ?? 1 / Math.sqrt(d),
      dims,
    });
  });
}
