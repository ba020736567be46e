// The resampling kernel (shaders/interp.wgsl) and its plan: per-axis source taps with PyTorch's float32
// index arithmetic and, for the adjoint, each source index's range of outputs, in one constant table.
import type { Tensor } from '../../autograd/tensor.js';
import type { GpuContext } from '../../gpu/context.js';
import { defineParams } from '../../gpu/wgsl.js';
import { f32bits, grid1D, launch, shader } from '../util.js';

export type InterpolateMode = 'nearest' | 'nearest-exact' | 'bilinear';

/** Input H×W to output OH×OW; `scales` the given scale factors (null: from the sizes). */
export interface ResampleGeometry {
  H: number; W: number; OH: number; OW: number;
  scales: [number | null, number | null];
  mode: InterpolateMode;
  alignCorners: boolean;
}

export interface ResamplePlan {
  H: number; W: number; OH: number; OW: number; table: GPUBuffer;
  /** Nearest ×2 on both axes (diffusers' Upsample2D): output pixel (oh, ow) reads (oh >> 1, ow >> 1). */
  doubling: boolean;
}

interface Tap { i0: number; i1: number; w0: number; w1: number }
const fr = Math.fround;

/** Source taps of every output index along one axis, with PyTorch's float32 index arithmetic. */
function axisTaps(inSize: number, outSize: number, scale: number | null, mode: InterpolateMode, alignCorners: boolean): Tap[] {
  // compute_scales_value: 1/scale_factor when one is used, else in/out (as float32).
  const s = scale !== null && scale > 0 ? fr(1 / scale) : fr(inSize / outSize);
  return Array.from({ length: outSize }, (_, dst): Tap => {
    if (mode === 'nearest' || mode === 'nearest-exact') {
      let src: number;
      if (mode === 'nearest-exact') src = Math.min(Math.floor(fr(fr(dst + 0.5) * s)), inSize - 1);
      else if (outSize === inSize) src = dst;
      else if (outSize === 2 * inSize) src = dst >> 1;
      else src = Math.min(Math.floor(fr(dst * s)), inSize - 1);
      return { i0: src, i1: src, w0: 1, w1: 0 };
    }
    let r: number;
    if (alignCorners) r = outSize > 1 ? fr(fr((inSize - 1) / (outSize - 1)) * dst) : 0;
    else r = Math.max(fr(fr(s * fr(dst + 0.5)) - 0.5), 0);
    const i0 = Math.min(Math.floor(r), inSize - 1);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    const l1 = fr(r - i0);
    return { i0, i1, w0: fr(1 - l1), w1: l1 };
  });
}

/** For each input index, the range [lo, hi) of outputs with a tap on it (empty: lo = hi = 0). */
function inverseRanges(taps: Tap[], inSize: number): number[] {
  const lo = new Array<number>(inSize).fill(-1);
  const hi = new Array<number>(inSize).fill(0);
  taps.forEach((t, o) => {
    for (const i of [t.i0, t.i1]) {
      if (lo[i] < 0) lo[i] = o;
      hi[i] = o + 1;
    }
  });
  return lo.flatMap((l, i) => (l < 0 ? [0, 0] : [l, hi[i]]));
}

/** The plan (its table cached on the context) of one resampling geometry. */
export function resamplePlan(ctx: GpuContext, g: ResampleGeometry): ResamplePlan {
  const { H, W, OH, OW, scales, mode, alignCorners: ac } = g;
  const key = `${H},${W},${OH},${OW},${scales.join(',')},${mode},${ac}`;
  const table = ctx.constantBuffer(`interpolate:${key}`, () => {
    const ty = axisTaps(H, OH, scales[0], mode, ac);
    const tx = axisTaps(W, OW, scales[1], mode, ac);
    const taps = (ts: Tap[]) => ts.flatMap((t) => [t.i0, t.i1, f32bits(t.w0), f32bits(t.w1)]);
    return Uint32Array.from([...taps(ty), ...taps(tx), ...inverseRanges(ty, H), ...inverseRanges(tx, W)]);
  });
  return { H, W, OH, OW, table, doubling: mode === 'nearest' && OH === 2 * H && OW === 2 * W };
}

const INTERP_PARAMS = defineParams('InterpParams', { n: 'u32', H: 'u32', W: 'u32', OH: 'u32', OW: 'u32' });

/** Forward (gather at the taps) or its adjoint (each source sums its range of outputs). */
export function resampleKernel(pass: 'forward' | 'adjoint', p: ResamplePlan, src: Tensor, out: Tensor): void {
  if (!out.size) return;
  const params = INTERP_PARAMS.pack({ n: out.size, H: p.H, W: p.W, OH: p.OH, OW: p.OW });
  // The doubling entries skip the tap table: on lavapipe a [16, 32, 16, 16] → 32×32 upsample's
  // forward and adjoint take ~4× less time.
  const MODE = (pass === 'forward' ? 0 : 1) + (p.doubling ? 2 : 0);
  launch(src.ctx, shader('interp', { MODE }, INTERP_PARAMS), [src.buffer, out.buffer, p.table], params, grid1D(out.size, 256));
}
