import { keep, tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { fromArray } from '../ops/creation.js';
import { add, div, mul, sub } from '../ops/elementwise.js';
import { indexSelect } from '../ops/gather.js';
import { max, mean } from '../ops/reduce.js';
import { interpolate } from '../ops/resample.js';
import { concat, narrow, reshape } from '../ops/shape.js';
import type { AttentionCall, AttentionHook } from '../models/diffusers/attention.js';

/**
 * Prompt-to-prompt (Hertz et al. 2022) runs the source and the edited prompt in one batch:
 * latents [source, edit], guidance halves [∅, ∅, c_source, c_edit]. The hook rewrites the edit's
 * conditional attention from the source's.
 */
export type P2PMode =
  /** Word swap: prompts with the same token count; the edit takes the source's maps position by position. */
  | { kind: 'replace' }
  /** Refinement: tokens aligned by a longest common subsequence; new tokens keep their own maps. */
  | { kind: 'refine'; sourceIds: readonly number[]; editIds: readonly number[] };

export interface P2POptions {
  mode: P2PMode;
  steps: number;
  /** Fraction of steps with cross-attention injection (default 0.8). */
  crossReplace?: number;
  /** Fraction of steps with self-attention injection (default 0.4); only maps with ≤ maxSelfTokens queries. */
  selfReplace?: number;
  maxSelfTokens?: number;
  /** Re-weighting: token position → factor applied to the edit's cross-attention (e.g. {5: 2}). */
  reweight?: Record<number, number>;
  /** Receives the conditional source cross-attention maps (for masks), [heads, Lq, Lk] per call. */
  onSourceCross?: (probs: Tensor, call: AttentionCall, step: number) => void;
}

/** Longest-common-subsequence alignment: for each edit position, the source position or -1. */
export function alignTokens(source: readonly number[], edit: readonly number[]): number[] {
  const n = source.length;
  const m = edit.length;
  const L = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = source[i] === edit[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const map = new Array<number>(m).fill(-1);
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (source[i] === edit[j]) {
      map[j] = i;
      i++;
      j++;
    } else if (L[i + 1][j] >= L[i][j + 1]) i++;
    else j++;
  }
  return map;
}

/** The hook for sampling step `step` (pass it as ddimSample's attentionHook). */
export function promptToPromptHook(o: P2POptions): (step: number) => AttentionHook {
  const crossSteps = Math.round((o.crossReplace ?? 0.8) * o.steps);
  const selfSteps = Math.round((o.selfReplace ?? 0.4) * o.steps);
  const maxSelf = o.maxSelfTokens ?? 32 * 32;
  let mapper: number[] | null = null;
  if (o.mode.kind === 'refine') mapper = alignTokens(o.mode.sourceIds, o.mode.editIds);

  return (step) => (probs, call) => {
    if (probs.shape[0] !== 4) throw new Error(`cflens: prompt-to-prompt expects a batch of 4 ([∅ src, ∅ edit, c src, c edit]), got ${probs.shape[0]}`);
    const src = narrow(probs, 0, 2, 1);
    if (call.isCross && o.onSourceCross) o.onSourceCross(reshape(src, src.shape.slice(1)), call, step);
    const injectCross = call.isCross && step < crossSteps;
    const injectSelf = !call.isCross && step < selfSteps && call.queryLen <= maxSelf;
    if (!injectCross && !injectSelf && !(call.isCross && o.reweight)) return undefined;
    let edit = narrow(probs, 0, 3, 1);
    if (injectSelf) edit = src;
    if (injectCross) edit = mapper ? refine(src, edit, mapper) : src;
    if (call.isCross && o.reweight) edit = reweight(edit, o.reweight);
    return concat([narrow(probs, 0, 0, 3), edit], 0);
  };
}

/** Aligned tokens take the source's maps; unaligned (new) tokens keep the edit's. */
function refine(src: Tensor, edit: Tensor, mapper: number[]): Tensor {
  const lk = src.shape[src.ndim - 1];
  const idx = Array.from({ length: lk }, (_, j) => (j < mapper.length && mapper[j] >= 0 ? mapper[j] : j));
  const alpha = fromArray(Array.from({ length: lk }, (_, j) => (j < mapper.length && mapper[j] < 0 ? 0 : 1)), [lk]);
  const moved = indexSelect(src, src.ndim - 1, idx);
  return add(mul(moved, alpha), mul(edit, sub(1, alpha)));
}

function reweight(p: Tensor, weights: Record<number, number>): Tensor {
  const lk = p.shape[p.ndim - 1];
  const w = Array.from({ length: lk }, (_, j) => weights[j] ?? 1);
  return mul(p, fromArray(w, [lk]));
}

/**
 * Averages captured cross-attention maps of one token into a spatial mask: maps of every layer whose
 * query count is a square are resized to `size`, averaged over heads, layers and steps, normalised by
 * their maximum and thresholded (prompt-to-prompt's local blending, LANCE's edit regions).
 */
export class TokenMaskAccumulator {
  private acc: Tensor | null = null;
  private count = 0;
  constructor(readonly tokenIndex: number, readonly size: [number, number]) {}

  add(probs: Tensor, call: AttentionCall): void {
    const side = Math.round(Math.sqrt(call.queryLen));
    if (side * side !== call.queryLen) return;
    const next = tidy(() => {
      const tok = narrow(probs, probs.ndim - 1, this.tokenIndex, 1); // [heads, Lq, 1]
      const m = reshape(mean(tok, 0), [1, 1, side, side]);
      const up = interpolate(m, { size: this.size, mode: 'bilinear' });
      return this.acc ? add(this.acc, up) : up;
    });
    this.acc?.dispose();
    this.acc = keep(next);
    this.count++;
  }

  /** The averaged map scaled to [0, 1] ([1, 1, H, W]); with a threshold, a 0/1 mask. */
  mask(threshold?: number): Tensor {
    if (!this.acc) throw new Error(`cflens: TokenMaskAccumulator: no cross-attention maps were captured for token ${this.tokenIndex}`);
    return tidy(() => {
      const avg = div(this.acc!, this.count);
      const norm = div(avg, max(avg));
      return threshold === undefined ? norm : norm.gt(threshold);
    });
  }

  dispose(): void {
    this.acc?.dispose();
    this.acc = null;
  }
}
