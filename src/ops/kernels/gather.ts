// The gather kernels: gather.wgsl (torch.gather, index_select), scatter_add.wgsl (their atomic adjoint)
// and scatter_index.wgsl (index_select's deterministic adjoint). Raw launches, no tape.
import type { Binding, GpuContext } from '../../gpu/context.js';
import { bindingChunks, grid1D, launch, rangeOf } from '../../gpu/kernel.js';
import { defineParams, shader } from '../../gpu/wgsl.js';
import { Tensor } from '../../autograd/tensor.js';
import { zeros } from '../creation.js';
import { contiguousStrides } from '../util.js';

/**
 * gather.wgsl and scatter_add.wgsl: n threads over the gathered shape; dims = that shape, then the
 * source's (scatter: the result's) contiguous strides. The source may be bound as rows [lo, lo + count)
 * of the axis (then axis 0).
 */
const GATHER_PARAMS = defineParams('GatherParams', {
  n: 'u32', rank: 'u32', axis: 'u32', axisLen: 'u32', lo: 'u32', count: 'u32', dims: ['u32', '*'],
});
/** scatter_index.wgsl: n threads over rows [lo, lo + count) of [outer, axisLen, inner]; m indices. */
const INDEX_ADD_PARAMS = defineParams('IndexAddParams', { n: 'u32', axisLen: 'u32', m: 'u32', inner: 'u32', lo: 'u32', count: 'u32' });

export type Mode = 0 | 1; // 0 gather (one index per output element), 1 indexSelect (1-D index along the axis)

function indexFill(idx: Tensor): Record<string, string> {
  return idx.dtype === 'i32' ? { IT: 'i32', LOAD_IDX: 'IDX[k]' } : { IT: 'f32', LOAD_IDX: 'i32(round(IDX[k]))' };
}

/**
 * A source (or result) larger than one binding is bound in ranges of whole rows when the op runs along
 * axis 0; each range is one dispatch. Other axes bind the whole buffer (an error names the limit).
 */
function rowRanges(buffer: GPUBuffer, shape: readonly number[], axis: number, ctx: GpuContext): [number, number, Binding][] {
  const rows = shape[axis];
  if (axis !== 0 || !rows) return [[0, rows, buffer]];
  const rowBytes = (4 * shape.reduce((a, b) => a * b, 1)) / rows;
  const chunks = bindingChunks(ctx, rows, rowBytes);
  return chunks.length === 1 ? [[0, rows, buffer]] : chunks.map(([lo, n]) => [lo, n, rangeOf(buffer, lo, n, rowBytes)]);
}

/** Raw gather kernel (no tape): out has `outShape`; reads `x` (any of f32 / i32). */
export function gatherKernel(mode: Mode, x: Tensor, axis: number, idx: Tensor, outShape: readonly number[]): Tensor {
  const out = Tensor.empty(outShape, x.dtype, x.ctx);
  if (!out.size) return out;
  const at = { n: out.size, rank: x.ndim, axis, axisLen: x.shape[axis], dims: [...outShape, ...contiguousStrides(x.shape)] };
  const code = shader('gather', { MODE: mode, T: x.dtype === 'i32' ? 'i32' : 'f32', ...indexFill(idx) }, GATHER_PARAMS);
  for (const [lo, count, src] of rowRanges(x.buffer, x.shape, axis, x.ctx)) {
    launch(x.ctx, code, [src, idx.buffer, out.buffer], GATHER_PARAMS.pack({ ...at, lo, count }), grid1D(out.size, 256));
  }
  return out;
}

/** Raw scatter-add kernel (no tape): zeros of `shape` plus g at the positions the gather read. */
export function scatterAddKernel(mode: Mode, g: Tensor, shape: readonly number[], axis: number, idx: Tensor): Tensor {
  const out = zeros(shape, { ctx: g.ctx });
  if (!g.size) return out;
  const at = { n: g.size, rank: shape.length, axis, axisLen: shape[axis], dims: [...g.shape, ...contiguousStrides(shape)] };
  const code = shader('scatter_add', { MODE: mode, ...indexFill(idx) }, GATHER_PARAMS);
  for (const [lo, count, dst] of rowRanges(out.buffer, shape, axis, g.ctx)) {
    launch(g.ctx, code, [g.buffer, idx.buffer, dst], GATHER_PARAMS.pack({ ...at, lo, count }), grid1D(g.size, 256));
  }
  return out;
}

/** Raw deterministic index-add (no tape): the adjoint of indexSelect along `axis`. */
export function indexAddKernel(g: Tensor, shape: readonly number[], axis: number, idx: Tensor): Tensor {
  const out = Tensor.empty(shape, 'f32', g.ctx);
  if (!out.size) return out;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  for (const [lo, n, dst] of rowRanges(out.buffer, shape, axis, g.ctx)) {
    const count = (out.size / shape[axis]) * n;
    const params = INDEX_ADD_PARAMS.pack({ n: count, axisLen: shape[axis], m: idx.size, inner, lo, count: n });
    launch(g.ctx, shader('scatter_index', indexFill(idx), INDEX_ADD_PARAMS), [g.buffer, idx.buffer, dst], params, grid1D(count, 256));
  }
  return out;
}
