import { record } from '../autograd/record.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { add } from './elementwise.js';
import { sumToShape } from './reduce.js';
import { reshape } from './shape.js';
import { assertFloat, broadcastShapes, broadcastStrides, launch, sameCtx, shader } from './util.js';

/** Raw batched kernel (no tape) on tensors of rank ≥ 2 whose batch dimensions broadcast. */
function mmKernel(a: Tensor, b: Tensor, ta: boolean, tb: boolean): Tensor {
  const [am, ak] = ta ? [a.shape[a.ndim - 1], a.shape[a.ndim - 2]] : [a.shape[a.ndim - 2], a.shape[a.ndim - 1]];
  const [bk, bn] = tb ? [b.shape[b.ndim - 1], b.shape[b.ndim - 2]] : [b.shape[b.ndim - 2], b.shape[b.ndim - 1]];
  if (ak !== bk) {
    throw new Error(`cflens: matmul: shapes ${shapeStr(a.shape)}${ta ? 'ᵀ' : ''} and ${shapeStr(b.shape)}${tb ? 'ᵀ' : ''} do not match (inner sizes ${ak} and ${bk})`);
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batch = broadcastShapes('matmul', aBatch, bBatch);
  const out = Tensor.empty([...batch, am, bn], 'f32', a.ctx);
  const count = batch.reduce((x, y) => x * y, 1);
  if (!out.size) return out;
  // Strides of the batch dims in elements of each operand's matrices.
  const aStr = broadcastStrides(aBatch, batch).map((s) => s * am * ak);
  const bStr = broadcastStrides(bBatch, batch).map((s) => s * bk * bn);
  const params = [am, bn, ak, batch.length, ...batch, ...aStr, ...bStr];
  const code = shader('matmul', { TRANS_A: String(ta), TRANS_B: String(tb) });
  launch(a.ctx, code, [a.buffer, b.buffer, out.buffer], params, [Math.ceil(bn / 32), Math.ceil(am / 32), count]);
  return out;
}

/**
 * op(a) · op(b) for rank ≥ 2 with broadcast batch dimensions, op = transpose when flagged. The vjp is
 * again made of mm calls, so higher-order gradients work.
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
    return [ga && sumToShape(ga, a.shape), gb && sumToShape(gb, b.shape)];
  });
}

/** torch.matmul semantics: 1-D operands, 2-D, and batched N-D with broadcasting. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) throw new Error(`cflens: matmul: scalars are not matrices (${shapeStr(a.shape)} and ${shapeStr(b.shape)}); use mul`);
  const a2 = a.ndim === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.ndim === 1 ? reshape(b, [b.shape[0], 1]) : b;
  const ak = a2.shape[a2.ndim - 1];
  const bk = b2.shape[b2.ndim - 2];
  if (ak !== bk) throw new Error(`cflens: matmul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} do not match (inner sizes ${ak} and ${bk})`);
  const y = mm(a2, b2);
  if (a.ndim > 1 && b.ndim > 1) return y;
  const shape = y.shape.filter((_, i) => !((a.ndim === 1 && i === y.ndim - 2) || (b.ndim === 1 && i === y.ndim - 1)));
  const r = reshape(y, shape);
  y.dispose();
  if (a2 !== a) a2.dispose();
  if (b2 !== b) b2.dispose();
  return r;
}

/** x·wᵀ + b with w in PyTorch's [out, in] layout; x is [..., in]. */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  assertFloat('linear', x, w);
  const inF = x.shape[x.ndim - 1];
  if (w.ndim !== 2 || w.shape[1] !== inF) throw new Error(`cflens: linear: input ${shapeStr(x.shape)} and weight ${shapeStr(w.shape)} do not match (weight must be [out, ${inF}])`);
  if (b && (b.ndim !== 1 || b.shape[0] !== w.shape[0])) throw new Error(`cflens: linear: bias ${shapeStr(b.shape)} does not match weight ${shapeStr(w.shape)}`);
  const lead = x.shape.slice(0, -1);
  const x2 = reshape(x, [lead.reduce((p, q) => p * q, 1), inF]);
  const y2 = mm(x2, w, { transB: true });
  x2.dispose();
  const y = reshape(y2, [...lead, w.shape[0]]);
  y2.dispose();
  if (!b) return y;
  const out = add(y, b);
  y.dispose();
  return out;
}
