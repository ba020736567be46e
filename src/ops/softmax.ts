import { fusedOrComposed, record } from '../autograd/record.js';
import { Tensor } from '../autograd/tensor.js';
import type { GpuContext } from '../gpu/index.js';
import { defineFlag } from '../gpu/flags.js';
import { exp, mul, sub } from './elementwise.js';
import { sum } from './reduce.js';
import { reshape } from './shape.js';
import { defineParams } from '../gpu/wgsl.js';
import { assertFloat, grid1D, launch, normAxis, shader } from './util.js';

// softmax / logSoftmax along any axis: one fused kernel (shaders/softmax.wgsl) for the forward and one
// for the backward. A row is the elements along the axis (strided by the product of the later axes).

const MODES = { softmax: 0, logSoftmax: 1, softmaxBackward: 2, logSoftmaxBackward: 3 } as const;
declare module '../gpu/flags.js' {
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

/** Raw kernel (no tape). Forward: a = x. Backward: a = the op's output y, g = its gradient. */
function rowKernel(mode: keyof typeof MODES, a: Tensor, g: Tensor | null, axis: number): Tensor {
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

function prepare(op: string, x: Tensor, axis: number): number {
  assertFloat(op, x);
  // A 0-d tensor is one row of one element (as torch, which accepts dim 0 or -1).
  return x.ndim === 0 ? (normAxis(op, axis, 1), -1) : normAxis(op, axis, x.ndim);
}

/**
 * Softmax along `axis` (default: the last), max-subtracted. A row of all -inf gives NaN, as PyTorch.
 * The vjp, y·(g − Σ g·y), runs as one fused kernel; when the backward pass is itself recorded
 * (createGraph) it is built from differentiable ops instead, so higher-order gradients work.
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  const a = prepare('softmax', x, axis);
  if (a < 0) return softmax1(x, 'softmax');
  const y = rowKernel('softmax', x, null, a);
  return record('softmax', [x], y, (g) => [
    fusedOrComposed(() => rowKernel('softmaxBackward', y, g, a), () => mul(y, sub(g, sum(mul(g, y), a, true)))),
  ]);
}

/** log(softmax(x)) along `axis`, computed as x − max − log Σ exp(x − max). vjp: g − exp(y)·Σ g. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const a = prepare('logSoftmax', x, axis);
  if (a < 0) return softmax1(x, 'logSoftmax');
  const y = rowKernel('logSoftmax', x, null, a);
  return record('logSoftmax', [x], y, (g) => [
    fusedOrComposed(() => rowKernel('logSoftmaxBackward', y, g, a), () => sub(g, mul(exp(y), sum(g, a, true)))),
  ]);
}

/** 0-d input: the same computation on a [1] view. */
function softmax1(x: Tensor, op: 'softmax' | 'logSoftmax'): Tensor {
  const v = reshape(x, [1]);
  const y = op === 'softmax' ? softmax(v, 0) : logSoftmax(v, 0);
  v.dispose();
  const r = reshape(y, []);
  y.dispose();
  return r;
}
