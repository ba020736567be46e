import { record } from '../autograd/record.js';
import { defineFlag } from '../gpu/flags.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { fromArray } from './creation.js';
import { gatherKernel, indexAddKernel, scatterAddKernel, type Mode } from './kernels/gather.js';
import { normAxis, sameCtx } from './util.js';

// torch.gather / torch.index_select and their vjps (scatter-adds), each differentiable in turn.
//
// Index convention (both ops): an index i with -len <= i < 0 counts from the end; anything still out of
// [0, len) is CLAMPED by the kernel. Validating a GPU index would need a readback (a hidden sync), so
// only indices given as CPU arrays (indexSelect) are checked, with an error naming the op.

/** An index: an i32 tensor, an f32 tensor holding integers, or (indexSelect only) CPU integers. */
export type IndexLike = Tensor | readonly number[] | Int32Array;

/**
 * Tuning: indexSelect's backward sums repeated indices deterministically (a gather over the index
 * list, cost ~ x.size · index length) while x.size · index length stays within this limit, and with
 * atomic scatter-adds (order of the adds may vary in the last bits) above it.
 */
declare module '../gpu/flags.js' {
  interface FlagValues {
    'gather.deterministicLimit': number;
  }
}
defineFlag({
  name: 'gather.deterministicLimit', default: 2 ** 26,
  doc: "indexSelect's backward: a deterministic per-row kernel while (indexed rows' elements × index count) stays under this, else atomics",
});

function checkIndexTensor(op: string, idx: Tensor, x: Tensor): void {
  idx.assertAlive(op);
  if (idx.dtype !== 'i32' && idx.dtype !== 'f32') {
    throw new Error(`cflens: ${op}: the index must be an i32 tensor (or f32 holding integers), got ${idx.dtype} of shape ${shapeStr(idx.shape)}`);
  }
  sameCtx(op, x, idx);
}

function checkSource(op: string, x: Tensor): void {
  x.assertAlive(op);
  if (x.dtype === 'f16') throw new Error(`cflens: ${op} needs f32 or i32 tensors, got f16 of shape ${shapeStr(x.shape)}; cast with .float()`);
}

/** The recorded gather (vjp: scatter-add into x's shape). */
function gatherOp(name: string, mode: Mode, x: Tensor, axis: number, idx: Tensor, outShape: readonly number[]): Tensor {
  const y = gatherKernel(mode, x, axis, idx, outShape);
  return record(name, [x], y, (g) => [scatterAdd(mode, g, x.shape, axis, idx)], [idx]);
}

/** The recorded scatter-add (vjp: the gather again), so higher-order gradients work. */
function scatterAdd(mode: Mode, g: Tensor, shape: readonly number[], axis: number, idx: Tensor): Tensor {
  const deterministic = mode === 1 && shape.reduce((a, b) => a * b, 1) * idx.size <= idx.ctx.flags.get('gather.deterministicLimit');
  const y = deterministic ? indexAddKernel(g, shape, axis, idx) : scatterAddKernel(mode, g, shape, axis, idx);
  return record(mode === 0 ? 'scatterAdd' : 'indexAdd', [g], y, (gg) => [gatherOp(mode === 0 ? 'gather' : 'indexSelect', mode, gg, axis, idx, g.shape)], [idx]);
}

/**
 * torch.gather: `out[..., j, ...] = x[..., index[..., j, ...], ...]` along `axis`. `index` (i32, or f32
 * holding integers) has x's rank and may be smaller than x off the axis; the output has its shape.
 * Out-of-range indices are clamped (see the note at the top of this file). The gradient scatter-adds
 * into x's shape, so repeated indices accumulate.
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  checkSource('gather', x);
  if (!(index instanceof Tensor)) throw new Error('cflens: gather: the index must be a tensor (i32, or f32 holding integers)');
  checkIndexTensor('gather', index, x);
  const a = normAxis('gather', axis, x.ndim);
  if (index.ndim !== x.ndim || index.shape.some((d, i) => i !== a && d > x.shape[i])) {
    throw new Error(
      `cflens: gather: index ${shapeStr(index.shape)} does not fit input ${shapeStr(x.shape)} along axis ${axis} (same rank, no larger off the axis)`,
    );
  }
  if (x.shape[a] === 0 && index.size > 0) throw new Error(`cflens: gather: input ${shapeStr(x.shape)} is empty along axis ${axis}`);
  return gatherOp('gather', 0, x, a, index, index.shape);
}

/**
 * torch.index_select: the slices of `x` along `axis` picked by a 1-D index (i32 / f32 tensor, or CPU
 * integers, which are checked: -len <= i < len). Tensor indices are wrapped once and clamped by the
 * kernel. Repeated indices accumulate in the gradient (embedding lookups).
 */
export function indexSelect(x: Tensor, axis: number, index: IndexLike): Tensor {
  checkSource('indexSelect', x);
  const a = normAxis('indexSelect', axis, x.ndim);
  const len = x.shape[a];
  let idx: Tensor;
  let owned = false;
  if (index instanceof Tensor) {
    checkIndexTensor('indexSelect', index, x);
    if (index.ndim !== 1) throw new Error(`cflens: indexSelect: the index must be 1-D, got shape ${shapeStr(index.shape)}`);
    idx = index;
  } else {
    const data = index instanceof Int32Array ? index : Int32Array.from(index);
    for (let k = 0; k < data.length; k++) {
      if (!Number.isInteger(index[k]) || index[k] < -len || index[k] >= len) {
        throw new Error(`cflens: indexSelect: index ${index[k]} (position ${k}) is out of range for axis ${axis} of size ${len} in ${shapeStr(x.shape)}`);
      }
    }
    idx = fromArray(data, [data.length], { ctx: x.ctx });
    owned = true;
  }
  if (len === 0 && idx.size > 0) throw new Error(`cflens: indexSelect: input ${shapeStr(x.shape)} is empty along axis ${axis}`);
  const shape = [...x.shape];
  shape[a] = idx.size;
  const y = gatherOp('indexSelect', 1, x, a, idx, shape);
  if (owned) idx.dispose(); // a recorded op retains it
  return y;
}
