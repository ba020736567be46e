// The softmax kernels (shaders/softmax.wgsl): one fused kernel per row for the forward and one for
// the backward, a thread or a workgroup per row (the 'softmax.*' flags).
import { Tensor } from '../../autograd/tensor.js';
import type { GpuContext } from '../../gpu/index.js';
import { defineFlag } from '../../gpu/flags.js';
import { defineParams } from '../../gpu/wgsl.js';
import { grid1D, launch, shader } from '../util.js';

const MODES = { softmax: 0, logSoftmax: 1, softmaxBackward: 2, logSoftmaxBackward: 3 } as const;
declare module '../../gpu/flags.js' {
  interface FlagValues {
    'softmax.rowKernel': 'auto' | 'thread' | 'workgroup';
    'softmax.smallRow': number;
    'softmax.cpuThreadRows': number;
  }
}
defineFlag({
  name: 'softmax.rowKernel', default: 'auto',
  doc: "softmax rows: 'thread' (a thread per row), 'workgroup' (a workgroup per row) or 'auto' (see softmax.smallRow and softmax.cpuThreadRows)",
});
defineFlag({ name: 'softmax.smallRow', default: 32, doc: "'auto': a thread per row for rows of at most this many elements" });
// On CPU adapters a workgroup's tree reduction costs more than the row itself (llvmpipe runs the barriers
// as separate loops; bench/norm.ts).
defineFlag({
  name: 'softmax.cpuThreadRows', default: 512,
  doc: "'auto' on CPU adapters: a thread per row wherever there are at least this many rows (8 workgroups' worth)",
});

function threadPerRow(ctx: GpuContext, rows: number, n: number): boolean {
  const kind = ctx.flags.get('softmax.rowKernel');
  if (kind !== 'auto') return kind === 'thread';
  return n <= ctx.flags.get('softmax.smallRow') || (ctx.caps.isCpu && rows >= ctx.flags.get('softmax.cpuThreadRows'));
}

const SOFTMAX_PARAMS = defineParams('SoftmaxParams', { rows: 'u32', n: 'u32', inner: 'u32' });

/** Raw kernel (no tape) along `axis`. Forward: a = x. Backward: a = the op's output y, g = its gradient. */
export function softmaxRows(mode: keyof typeof MODES, a: Tensor, g: Tensor | null, axis: number): Tensor {
  const out = Tensor.empty(a.shape, 'f32', a.ctx);
  if (!a.size) return out;
  const n = a.shape[axis];
  const inner = a.shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const rows = a.size / n;
  const code = shader('softmax', { MODE: MODES[mode] }, SOFTMAX_PARAMS);
  const buffers = [a.buffer, (g ?? a).buffer, out.buffer];
  const params = SOFTMAX_PARAMS.pack({ rows, n, inner });
  if (threadPerRow(a.ctx, rows, n)) launch(a.ctx, code, buffers, params, grid1D(rows, 64), undefined, 'small');
  else launch(a.ctx, code, buffers, params, grid1D(rows, 1));
  return out;
}
