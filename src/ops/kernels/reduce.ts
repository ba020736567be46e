// The reduction kernel's launch plan (shaders/reduce.wgsl): a workgroup tree or a thread per output.
import { Tensor } from '../../autograd/tensor.js';
import { defineFlag } from '../../gpu/flags.js';
import { defineParams } from '../../gpu/wgsl.js';
import { coalesceDims, contiguousStrides, grid1D, launch, shader } from '../util.js';

export const REDUCE_MODES = { sum: 0, max: 1, min: 2, logsumexp: 3, sqdev: 4 } as const;
export type ReduceMode = keyof typeof REDUCE_MODES;

/** Output shape of a reduction: reduced axes become 1 (keepdim) or disappear. */
export function reducedShape(shape: readonly number[], axes: number[], keepdim: boolean): number[] {
  return keepdim ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

declare module '../../gpu/flags.js' {
  interface FlagValues {
    'reduce.kernel': 'auto' | 'thread' | 'workgroup';
    'reduce.cpuThreadOutputs': number;
  }
}
defineFlag({
  name: 'reduce.kernel', default: 'auto',
  doc: "reductions: 'workgroup' (a tree per output element), 'thread' (a thread per output) " +
    "or 'auto' (a workgroup; on CPU adapters see reduce.cpuThreadOutputs)",
});
defineFlag({
  name: 'reduce.cpuThreadOutputs', default: 64,
  doc: "'auto' on CPU adapters: a thread per output from this many outputs (llvmpipe runs a tree's barriers as loops)",
});

/** reduce.wgsl: dims = the kept axes' shape and strides, then the reduced axes' shape and strides. */
const REDUCE_PARAMS = defineParams('ReduceParams', { outCount: 'u32', redCount: 'u32', nKeep: 'u32', nRed: 'u32', dims: ['u32', '*'] });

/** The raw reduction kernel (no tape); output has keepdim shape. */
export function reduceKernel(x: Tensor, axes: number[], mode: ReduceMode): Tensor {
  const shape = x.shape;
  const strides = contiguousStrides(shape);
  const keepAxes = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outShape = reducedShape(shape, axes, true);
  const out = Tensor.empty(outShape, 'f32', x.ctx);
  const outCount = out.size;
  const red = axes.reduce((n, a) => n * shape[a], 1);
  if (outCount === 0) return out;
  // Kept and reduced axes each walked as few dimensions as they allow (fewer index decodes per element).
  const keep = coalesceDims(keepAxes.map((i) => shape[i]), [keepAxes.map((i) => strides[i])]);
  const reduced = coalesceDims(axes.map((i) => shape[i]), [axes.map((i) => strides[i])]);
  const meta = REDUCE_PARAMS.pack({
    outCount, redCount: red, nKeep: keep.shape.length, nRed: reduced.shape.length,
    dims: [...keep.shape, ...keep.strides[0], ...reduced.shape, ...reduced.strides[0]],
  });
  const kind = x.ctx.flags.get('reduce.kernel');
  const perThread = kind === 'thread' || (kind === 'auto' && x.ctx.caps.isCpu && outCount >= x.ctx.flags.get('reduce.cpuThreadOutputs'));
  const code = shader('reduce', { MODE: REDUCE_MODES[mode] }, REDUCE_PARAMS);
  if (perThread) launch(x.ctx, code, [x.buffer, out.buffer], meta, grid1D(outCount, 64), undefined, 'per_output');
  else launch(x.ctx, code, [x.buffer, out.buffer], meta, grid1D(outCount, 1));
  return out;
}
