// The elementwise kernels: unary.wgsl (a map of x), binary.wgsl (a zip of a and b with broadcasting),
// where.wgsl, and the activations' fused backward act.wgsl / act_geglu.wgsl. Raw launches, no tape.
import { Tensor } from '../../autograd/tensor.js';
import { grid1D, launch } from '../../gpu/kernel.js';
import { defineParams, shader } from '../../gpu/wgsl.js';
import { broadcastShapes, broadcastStrides, coalesceDims, sameShape } from '../util.js';

/** unary.wgsl and act.wgsl: n elements and two f32 constants of the expression. */
export const MAP_PARAMS = defineParams('MapParams', { n: 'u32', s0: 'f32', s1: 'f32' });
/** binary.wgsl and where.wgsl: the coalesced iteration shape, then each operand's strides (rank 0: same shape, contiguous). */
export const BROADCAST_PARAMS = defineParams('BroadcastParams', { n: 'u32', rank: 'u32', dims: ['u32', '*'] });
/** act_geglu.wgsl: n = rows · D output elements. */
export const GEGLU_PARAMS = defineParams('GegluParams', { n: 'u32', D: 'u32' });

/** Runs `expr` (WGSL, of x, s0, s1) over every element, four per thread where the size allows. */
export function mapKernel(x: Tensor, expr: string, s0 = 0, s1 = 0): Tensor {
  const out = Tensor.empty(x.shape, 'f32', x.ctx);
  if (!x.size) return out;
  const code = shader('unary', { EXPR: expr }, MAP_PARAMS);
  const params = MAP_PARAMS.pack({ n: x.size, s0, s1 });
  if (x.size % 4 === 0) launch(x.ctx, code, [x.buffer, out.buffer], params, grid1D(x.size / 4, 256), undefined, 'main4');
  else launch(x.ctx, code, [x.buffer, out.buffer], params, grid1D(x.size, 256));
  return out;
}

/** Runs `expr` (WGSL, of a and b) with broadcasting. */
export function zipKernel(op: string, a: Tensor, b: Tensor, expr: string): Tensor {
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = Tensor.empty(shape, 'f32', a.ctx);
  if (!out.size) return out;
  let params = BROADCAST_PARAMS.pack({ n: out.size, rank: 0, dims: [] });
  let vec4 = out.size % 4 === 0;
  if (!sameShape(a.shape, b.shape)) {
    const c = coalesceDims(shape, [broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)]);
    params = BROADCAST_PARAMS.pack({ n: out.size, rank: c.shape.length, dims: [...c.shape, ...c.strides[0], ...c.strides[1]] });
    // vec4 chunks never straddle the innermost dimension, and a stride-1 operand's chunks are aligned.
    const last = c.shape.length - 1;
    vec4 &&= c.shape[last] % 4 === 0 && c.strides.every((s) => s[last] <= 1 && s.every((v, d) => d === last || s[last] === 0 || v % 4 === 0));
  }
  const code = shader('binary', { EXPR: expr }, BROADCAST_PARAMS);
  if (vec4) launch(a.ctx, code, [a.buffer, b.buffer, out.buffer], params, grid1D(out.size / 4, 256), undefined, 'main4');
  else launch(a.ctx, code, [a.buffer, b.buffer, out.buffer], params, grid1D(out.size, 256));
  return out;
}

/** cond != 0 ? a : b into `out` (already shaped as the broadcast of the three). */
export function whereKernel(cond: Tensor, a: Tensor, b: Tensor, out: Tensor): void {
  if (!out.size) return;
  const c = coalesceDims(out.shape, [cond.shape, a.shape, b.shape].map((s) => broadcastStrides(s, out.shape)));
  const params = BROADCAST_PARAMS.pack({ n: out.size, rank: c.shape.length, dims: [...c.shape, ...c.strides.flat()] });
  launch(a.ctx, shader('where', {}, BROADCAST_PARAMS), [cond.buffer, a.buffer, b.buffer, out.buffer], params, grid1D(out.size, 256));
}

/** g · expr(x) in one pass (act.wgsl), for activation backward. */
export function actGradKernel(x: Tensor, g: Tensor, expr: string, s0: number, s1: number): Tensor {
  const out = Tensor.empty(x.shape, 'f32', x.ctx);
  if (x.size) {
    launch(x.ctx, shader('act', { EXPR: `g * (${expr})` }, MAP_PARAMS), [x.buffer, g.buffer, out.buffer], MAP_PARAMS.pack({ n: x.size, s0, s1 }),
      grid1D(x.size, 256));
  }
  return out;
}

/**
 * GEGLU (act_geglu.wgsl) with gelu `f` and its derivative `d1`: MODE 0 writes out = h · f(gate) from x;
 * MODE 1 writes [g · f(gate) | g · h · f'(gate)] from x and g into out (x's shape).
 */
export function gegluKernel(mode: 0 | 1, fill: { F: string; D1: string }, x: Tensor, g: Tensor | null, out: Tensor, D: number): void {
  const n = mode === 0 ? out.size : (g as Tensor).size;
  if (!n) return;
  launch(x.ctx, shader('act_geglu', { MODE: mode, ...fill }, GEGLU_PARAMS), [x.buffer, (g ?? x).buffer, out.buffer], GEGLU_PARAMS.pack({ n, D }),
    grid1D(n, 256));
}
