// Dynamic thresholding (Imagen; diffusers' _threshold_sample) from differentiable tensor ops.
// The per-sample quantile of |x0| is found without sorting: an element's rank is the number of
// elements ≤ it, and the k-th smallest value is the least element whose rank exceeds k. Gradients
// flow through the chosen order statistics as they flow through torch.sort in torch.quantile.

import type { Tensor } from '../autograd/tensor.js';
import { abs, clamp, div, ge, le, maximum, minimum, mul, neg, sub, add, where } from '../ops/elementwise.js';
import { min, sum } from '../ops/reduce.js';
import { narrow, reshape } from '../ops/shape.js';
import { f } from './f32.js';

const HUGE = 3.4028234663852886e38;
/** Elements compared at once, in rows of the [B, rows, n] comparison (bounds its memory to 16 MiB). */
const COMPARISONS_PER_CHUNK = 1 << 22;

/** The k-th smallest values (0-based, for each k in ks) of every row of a [B, n] tensor: [B, 1] each. */
export function orderStatistics(a: Tensor, ks: readonly number[]): Tensor[] {
  const [b, n] = a.shape;
  const rows = Math.max(1, Math.floor(COMPARISONS_PER_CHUNK / (b * n)));
  const all = reshape(a, [b, 1, n]);
  const best: (Tensor | null)[] = ks.map(() => null);
  for (let start = 0; start < n; start += rows) {
    const m = Math.min(rows, n - start);
    const chunk = narrow(a, 1, start, m);
    const rank = sum(le(all, reshape(chunk, [b, m, 1])), 2); // [b, m]: elements ≤ each chunk element
    ks.forEach((k, j) => {
      const candidate = min(where(ge(rank, k + 1), chunk, HUGE), 1, true);
      best[j] = best[j] ? minimum(best[j]!, candidate) : candidate;
    });
  }
  return best as Tensor[];
}

/** torch.quantile(a, q, dim=1, keepdim=True) with linear interpolation, for a [B, n] tensor. */
export function rowQuantile(a: Tensor, q: number): Tensor {
  const n = a.shape[1];
  const rank = f(f(q) * (n - 1)); // torch computes ranks in the input's dtype
  const below = Math.floor(rank);
  const above = Math.ceil(rank);
  const weight = f(rank - below);
  if (below === above) return orderStatistics(a, [below])[0];
  const [lo, hi] = orderStatistics(a, [below, above]);
  // torch.lerp: from the nearer end.
  return weight < 0.5 ? add(lo, mul(sub(hi, lo), weight)) : sub(hi, mul(sub(hi, lo), f(1 - weight)));
}

/**
 * Per sample: s = clamp(quantile(|x0|, ratio), min=1, max=maxValue) (so s = maxValue when
 * maxValue < 1, as torch.clamp gives), then x0 clamped to [−s, s] and divided by s.
 */
export function dynamicThreshold(x0: Tensor, ratio: number, maxValue: number): Tensor {
  const [b] = x0.shape;
  const flat = reshape(x0, [b, x0.size / b]);
  const s = clamp(clamp(rowQuantile(abs(flat), ratio), 1), undefined, maxValue);
  const clipped = minimum(maximum(flat, neg(s)), s);
  return reshape(div(clipped, s), x0.shape);
}
