import { record } from '../autograd/record.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { add } from './elementwise.js';
import { sumToShape } from './shape.js';
import { reshape } from './shape.js';
import { assertFloat, broadcastShapes, broadcastStrides, sameCtx } from './util.js';
import { runGemm } from './kernels/matmul.js';

export { matmulKernelFor, runGemm, type Gemm, type MatmulKernel } from './kernels/matmul.js';

/** Raw batched kernel (no tape) on tensors of rank ≥ 2 whose batch dimensions broadcast. */
function mmKernel(a: Tensor, b: Tensor, ta: boolean, tb: boolean): Tensor {
  const [am, ak] = ta ? [a.shape[a.ndim - 1], a.shape[a.ndim - 2]] : [a.shape[a.ndim - 2], a.shape[a.ndim - 1]];
  const [bk, bn] = tb ? [b.shape[b.ndim - 1], b.shape[b.ndim - 2]] : [b.shape[b.ndim - 2], b.shape[b.ndim - 1]];
  if (ak !== bk) {
    throw new Error(
      `cflens: matmul: shapes ${shapeStr(a.shape)}${ta ? 'ᵀ' : ''} and ${shapeStr(b.shape)}${tb ? 'ᵀ' : ''} do not match (inner sizes ${ak} and ${bk})`,
    );
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  let batch: number[];
  try {
    batch = broadcastShapes('matmul', aBatch, bBatch);
  } catch {
    throw new Error(
      `cflens: matmul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} have batch dimensions ${shapeStr(aBatch)} and ${shapeStr(bBatch)} ` +
      'that cannot be broadcast together',
    );
  }
  const out = Tensor.empty([...batch, am, bn], 'f32', a.ctx);
  if (!out.size) return out;
  runGemm(a.ctx, {
    M: am, N: bn, K: ak, ta, tb, a: a.buffer, b: b.buffer, batch,
    aStr: broadcastStrides(aBatch, batch).map((s) => s * am * ak),
    bStr: broadcastStrides(bBatch, batch).map((s) => s * bk * bn),
    sM: bn, sN: 1,
  }, out);
  return out;
}

/**
 * op(a) · op(b) for rank ≥ 2 with broadcast batch dimensions, op = transpose (of the last two axes)
 * when flagged; transposes are kernel flags, never copies. The vjp is again made of mm calls (so
 * higher-order gradients work): dA = g · op(B)ᵀ, dB = op(A)ᵀ · g, summed over broadcast batch axes.
 */
export function mm(a: Tensor, b: Tensor, { transA = false, transB = false }: { transA?: boolean; transB?: boolean } = {}): Tensor {
  assertFloat('matmul', a, b);
  sameCtx('matmul', a, b);
  if (a.ndim < 2 || b.ndim < 2) throw new Error(`cflens: matmul: mm needs rank ≥ 2, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  const y = mmKernel(a, b, transA, transB);
  return record('matmul', [a, b], y, (g) => {
    const ga = a.requiresGrad
      ? transA ? mm(b, g, { transA: transB, transB: true }) : mm(g, b, { transB: !transB })
      : null;
    const gb = b.requiresGrad
      ? transB ? mm(g, a, { transA: true, transB: transA }) : mm(a, g, { transA: !transA })
      : null;
    const ra = ga && sumToShape(ga, a.shape);
    const rb = gb && sumToShape(gb, b.shape);
    if (ga && ra !== ga) ga.dispose();
    if (gb && rb !== gb) gb.dispose();
    return [ra, rb];
  });
}

/** torch.matmul semantics: 1-D operands (promoted, then squeezed), 2-D, and batched N-D with broadcasting. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  assertFloat('matmul', a, b);
  if (a.ndim === 0 || b.ndim === 0) throw new Error(`cflens: matmul: scalars are not matrices (${shapeStr(a.shape)} and ${shapeStr(b.shape)}); use mul`);
  const ak = a.shape[a.ndim - 1];
  const bk = b.ndim === 1 ? b.shape[0] : b.shape[b.ndim - 2];
  if (ak !== bk) throw new Error(`cflens: matmul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} do not match (inner sizes ${ak} and ${bk})`);
  const aBatch = a.ndim > 2 ? a.shape.slice(0, -2) : [];
  const bBatch = b.ndim > 2 ? b.shape.slice(0, -2) : [];
  try {
    broadcastShapes('matmul', aBatch, bBatch);
  } catch {
    throw new Error(
      `cflens: matmul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} have batch dimensions ${shapeStr(aBatch)} and ${shapeStr(bBatch)} ` +
      'that cannot be broadcast together',
    );
  }
  const a2 = a.ndim === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.ndim === 1 ? reshape(b, [b.shape[0], 1]) : b;
  const y = mm(a2, b2);
  if (a2 !== a) a2.dispose();
  if (b2 !== b) b2.dispose();
  if (a.ndim > 1 && b.ndim > 1) return y;
  const shape = y.shape.filter((_, i) => !((a.ndim === 1 && i === y.ndim - 2) || (b.ndim === 1 && i === y.ndim - 1)));
  const r = reshape(y, shape);
  y.dispose();
  return r;
}

/** x·wᵀ + b with w in PyTorch's [out, in] layout (the transposed-B kernel path reads w as is); x is [..., in]. */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  assertFloat('linear', x, w);
  if (x.ndim === 0) throw new Error(`cflens: linear: input ${shapeStr(x.shape)} must have at least one dimension`);
  const inF = x.shape[x.ndim - 1];
  if (w.ndim !== 2 || w.shape[1] !== inF) {
    throw new Error(`cflens: linear: input ${shapeStr(x.shape)} and weight ${shapeStr(w.shape)} do not match (weight must be [out, ${inF}])`);
  }
  if (b) {
    assertFloat('linear', b);
    if (b.ndim !== 1 || b.shape[0] !== w.shape[0]) throw new Error(`cflens: linear: bias ${shapeStr(b.shape)} does not match weight ${shapeStr(w.shape)}`);
  }
  const lead = x.shape.slice(0, -1);
  const x2 = x.ndim === 2 ? x : reshape(x, [lead.reduce((p, q) => p * q, 1), inF]);
  const y2 = mm(x2, w, { transB: true });
  if (x2 !== x) x2.dispose();
  const y = x.ndim === 2 ? y2 : reshape(y2, [...lead, w.shape[0]]);
  if (y !== y2) y2.dispose();
  if (!b) return y;
  const out = add(y, b);
  y.dispose();
  return out;
}
