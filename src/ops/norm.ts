import { noGrad } from '../autograd/grad-mode.js';
import { fusedOrComposed, record } from '../autograd/record.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { add, mul, rsqrt, sub } from './elementwise.js';
import { mean, sum } from './reduce.js';
import { narrow, reshape } from './shape.js';
import { assertFloat, sameCtx } from './util.js';
import { normForwardKernel, normGradsKernel, normInputGradKernel, normParamGradKernel, type NormLayout } from './kernels/norm.js';

// GroupNorm, LayerNorm and BatchNorm (training) share fused kernels (shaders/norm_*.wgsl): a
// normalisation is a set of rows (the elements that share statistics) plus an affine parameter index
// per element. Forward: one kernel computes Welford statistics and writes y; for few, long rows (a
// GroupNorm over 64×64 maps) each row is split over several workgroups (partials, then apply).
// Backward: one fused kernel for dx, and a reduction kernel for dweight/dbias.
//
// Higher-order gradients: the fused backward kernels are used when the backward pass is not itself
// recorded. Under createGraph the vjp is built from differentiable ops instead (the same formulas,
// statistics recomputed from x), so double backward works; the forward stays fused either way.

/** The vjp from differentiable ops (used when the backward pass is recorded). */
function composedVjp(L: NormLayout, x: Tensor, w: Tensor | null, b: Tensor | null, g: Tensor): Array<Tensor | null> {
  const xs = reshape(x, L.statShape);
  const xc = sub(xs, mean(xs, L.statAxes, true));
  const rstd = rsqrt(add(mean(mul(xc, xc), L.statAxes, true), L.eps));
  const xhatS = mul(xc, rstd);
  const gp = reshape(g, L.paramShape);
  const gy = reshape(w ? mul(gp, reshape(w, L.paramView)) : gp, L.statShape);
  let dx: Tensor | null = null;
  if (x.requiresGrad) {
    const m1 = mean(gy, L.statAxes, true);
    const m2 = mean(mul(gy, xhatS), L.statAxes, true);
    dx = reshape(mul(rstd, sub(sub(gy, m1), mul(xhatS, m2))), x.shape);
  }
  const dw = w?.requiresGrad ? reshape(sum(mul(gp, reshape(xhatS, L.paramShape)), L.paramAxes), w.shape) : null;
  const db = b?.requiresGrad ? reshape(sum(gp, L.paramAxes), b.shape) : null;
  return [dx, dw, db];
}

/** Runs the fused forward and records the op; `onStats` sees the statistics (BatchNorm's running update). */
function normOp(L: NormLayout, x: Tensor, w: Tensor | null, b: Tensor | null, onStats?: (stats: Tensor) => void): Tensor {
  const { y, stats } = normForwardKernel(L, x, w, b);
  if (onStats) onStats(stats);
  const inputs = [x, ...(w ? [w] : []), ...(b ? [b] : [])];
  const out = record(L.op, inputs, y, (g) => {
    const [dx, dw, db] = fusedOrComposed((): Array<Tensor | null> => {
      const params = w?.requiresGrad || b?.requiresGrad;
      const all = x.requiresGrad && params ? normGradsKernel(L, x, w, g, stats) : null;
      const dxk = all ? all[0] : x.requiresGrad ? normInputGradKernel(L, x, w, g, stats) : null;
      if (!params) return [dxk, null, null];
      const [pw, pb] = all ? [all[1], all[2]] : normParamGradKernel(L, x, g, stats);
      const dwk = w?.requiresGrad ? reshape(pw, w.shape) : null;
      const dbk = b?.requiresGrad ? reshape(pb, b.shape) : null;
      pw.dispose();
      pb.dispose();
      return [dxk, dwk, dbk];
    }, () => composedVjp(L, x, w, b, g));
    return [dx, ...(w ? [dw] : []), ...(b ? [db] : [])];
  }, [stats]);
  stats.dispose();
  return out;
}

function checkParam(op: string, p: Tensor | null | undefined, shape: readonly number[], x: Tensor, name: string): Tensor | null {
  if (!p) return null;
  assertFloat(op, p);
  sameCtx(op, x, p);
  if (p.shape.join() !== shape.join()) throw new Error(`cflens: ${op}: ${name} ${shapeStr(p.shape)} must be ${shapeStr(shape)} for input ${shapeStr(x.shape)}`);
  return p;
}

/**
 * torch.nn.functional.group_norm on [N, C, *]: statistics per (sample, group of C/groups channels),
 * biased variance, affine per channel.
 */
export function groupNorm(x: Tensor, groups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const op = 'groupNorm';
  assertFloat(op, x);
  if (x.ndim < 2) throw new Error(`cflens: ${op}: input must be [N, C, ...], got ${shapeStr(x.shape)}`);
  const [N, C] = x.shape;
  if (!Number.isInteger(groups) || groups <= 0 || C % groups !== 0) {
    throw new Error(`cflens: ${op}: ${groups} groups must divide the ${C} channels of ${shapeStr(x.shape)}`);
  }
  const w = checkParam(op, weight, [C], x, 'weight');
  const b = checkParam(op, bias, [C], x, 'bias');
  const S = x.shape.slice(2).reduce((a, d) => a * d, 1);
  const count = (C / groups) * S;
  const rows = N * groups;
  return normOp({
    op, rows, count, rowStride: count, segLen: count, segStride: 0, seg: 0,
    S, P: w || b ? C : 0, A: N, rowDiv: Math.max(count, 1), rowMod: Math.max(rows, 1), eps,
    statShape: [N, groups, count], statAxes: [2], paramShape: [N, C, S], paramView: [1, C, 1], paramAxes: [0, 2],
  }, x, w, b);
}

/** torch.nn.functional.layer_norm over the trailing `normalizedShape` axes; weight/bias have that shape. */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const op = 'layerNorm';
  assertFloat(op, x);
  const k = normalizedShape.length;
  if (k > x.ndim || x.shape.slice(x.ndim - k).join() !== normalizedShape.join()) {
    throw new Error(`cflens: ${op}: normalized shape ${shapeStr(normalizedShape)} does not end the input shape ${shapeStr(x.shape)}`);
  }
  const w = checkParam(op, weight, normalizedShape, x, 'weight');
  const b = checkParam(op, bias, normalizedShape, x, 'bias');
  const inner = normalizedShape.reduce((a, d) => a * d, 1);
  const rows = inner === 0 ? 0 : x.size / inner;
  return normOp({
    op, rows, count: inner, rowStride: inner, segLen: inner, segStride: 0, seg: 0,
    S: 1, P: w || b ? inner : 0, A: rows, rowDiv: Math.max(inner, 1), rowMod: Math.max(rows, 1), eps,
    statShape: [rows, inner], statAxes: [1], paramShape: [rows, inner], paramView: [1, inner], paramAxes: [0],
  }, x, w, b);
}

export interface BatchNormOptions { training?: boolean; momentum?: number; eps?: number }

/**
 * torch.nn.functional.batch_norm on [N, C, *]. Inference normalises with the running statistics (an
 * affine map per channel, composed of differentiable ops). Training normalises with the batch
 * statistics (biased variance; fused kernels) and, when running statistics are given, updates them in
 * place as PyTorch: running = (1 − momentum)·running + momentum·batch, with the unbiased variance.
 */
export function batchNorm2d(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight?: Tensor | null,
  bias?: Tensor | null,
  { training = false, momentum = 0.1, eps = 1e-5 }: BatchNormOptions = {},
): Tensor {
  const op = 'batchNorm2d';
  assertFloat(op, x);
  if (x.ndim < 2) throw new Error(`cflens: ${op}: input must be [N, C, ...], got ${shapeStr(x.shape)}`);
  const [N, C] = x.shape;
  const w = checkParam(op, weight, [C], x, 'weight');
  const b = checkParam(op, bias, [C], x, 'bias');
  const rm = checkParam(op, runningMean, [C], x, 'running mean');
  const rv = checkParam(op, runningVar, [C], x, 'running variance');
  const S = x.shape.slice(2).reduce((a, d) => a * d, 1);
  const view = [1, C, ...x.shape.slice(2).map(() => 1)];
  if (!training) {
    if (!rm || !rv) throw new Error(`cflens: ${op}: inference needs running statistics (or training: true)`);
    // y = x·scale + shift, scale = w / sqrt(rv + eps), shift = b − rm·scale.
    const scale = w ? mul(w, rsqrt(add(rv, eps))) : rsqrt(add(rv, eps));
    const shift = b ? sub(b, mul(rm, scale)) : mul(mul(rm, scale), -1);
    const sv = reshape(scale, view);
    const hv = reshape(shift, view);
    const y = add(mul(x, sv), hv);
    for (const t of [scale, shift, sv, hv]) t.dispose();
    return y;
  }
  const count = N * S;
  if (count <= 1) throw new Error(`cflens: ${op}: training needs more than 1 value per channel, got input ${shapeStr(x.shape)}`);
  const update = (stats: Tensor) => {
    if (!rm && !rv) return;
    noGrad(() => {
      if (rm) {
        const m = narrow(stats, 1, 0, 1);
        blendInPlace(rm, m, momentum, 1);
        m.dispose();
      }
      if (rv) {
        const v = narrow(stats, 1, 1, 1);
        blendInPlace(rv, v, momentum, count / (count - 1));
        v.dispose();
      }
    });
  };
  return normOp({
    op, rows: C, count, rowStride: S, segLen: S, segStride: C * S, seg: 1,
    S, P: w || b ? C : 0, A: N, rowDiv: Math.max(S, 1), rowMod: Math.max(C, 1), eps,
    statShape: [N, C, S], statAxes: [0, 2], paramShape: [N, C, S], paramView: [1, C, 1], paramAxes: [0, 2],
  }, x, w, b, update);
}

/** running = (1 − momentum)·running + momentum·scale·batch, in place (buffers, never on the tape). */
function blendInPlace(running: Tensor, batch: Tensor, momentum: number, scale: number): void {
  const flat = reshape(batch, running.shape);
  const a = mul(running, 1 - momentum);
  const c = mul(flat, momentum * scale);
  const next = add(a, c);
  running.ctx.copyBuffer(next.buffer, 0, running.buffer, 0, running.size * 4);
  for (const t of [flat, a, c, next]) t.dispose();
}
