import { record } from '../autograd/record.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { defineParams } from '../gpu/wgsl.js';
import { assertFloat, f32bits, grid1D, launch, shader } from './util.js';

export type InterpolateMode = 'nearest' | 'nearest-exact' | 'bilinear';

export interface InterpolateOptions {
  size?: number | readonly [number, number];
  scaleFactor?: number | readonly [number, number];
  mode?: InterpolateMode;
  /** bilinear only (default false). */
  alignCorners?: boolean;
  /** As torch: with a scale factor, index with in/out instead of 1/scaleFactor. */
  recomputeScaleFactor?: boolean;
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

interface Plan { H: number; W: number; OH: number; OW: number; table: GPUBuffer }

function plan(x: Tensor, opts: InterpolateOptions): Plan {
  const op = 'interpolate';
  assertFloat(op, x);
  if (x.ndim !== 4) throw new Error(`cflens: ${op}: input ${shapeStr(x.shape)} must be 4-D (NCHW)`);
  const mode = opts.mode ?? 'nearest';
  if (!['nearest', 'nearest-exact', 'bilinear'].includes(mode)) {
    throw new Error(`cflens: ${op}: unknown mode ${JSON.stringify(mode)} (nearest, nearest-exact, bilinear)`);
  }
  if (mode !== 'bilinear' && opts.alignCorners !== undefined) {
    throw new Error(`cflens: ${op}: alignCorners only applies to bilinear, not ${mode} (input ${shapeStr(x.shape)})`);
  }
  if ((opts.size === undefined) === (opts.scaleFactor === undefined)) {
    throw new Error(`cflens: ${op}: give exactly one of size and scaleFactor (input ${shapeStr(x.shape)})`);
  }
  const [, , H, W] = x.shape;
  let OH: number;
  let OW: number;
  let scales: [number | null, number | null] = [null, null];
  if (opts.size !== undefined) {
    [OH, OW] = typeof opts.size === 'number' ? [opts.size, opts.size] : opts.size;
  } else {
    const sf = typeof opts.scaleFactor === 'number' ? [opts.scaleFactor, opts.scaleFactor] : opts.scaleFactor!;
    if (!(sf[0] > 0 && sf[1] > 0)) throw new Error(`cflens: ${op}: scaleFactor must be positive, got ${JSON.stringify(opts.scaleFactor)}`);
    OH = Math.floor(H * sf[0]);
    OW = Math.floor(W * sf[1]);
    if (!opts.recomputeScaleFactor) scales = [sf[0], sf[1]];
  }
  if (!Number.isInteger(OH) || !Number.isInteger(OW) || OH < 1 || OW < 1 || H < 1 || W < 1) {
    throw new Error(`cflens: ${op}: input ${shapeStr(x.shape)} to output ${OH}x${OW}: sizes must be positive integers`);
  }
  const ac = opts.alignCorners ?? false;
  const key = `${H},${W},${OH},${OW},${scales.join(',')},${mode},${ac}`;
  const table = x.ctx.constantBuffer(`interpolate:${key}`, () => {
    const ty = axisTaps(H, OH, scales[0], mode, ac);
    const tx = axisTaps(W, OW, scales[1], mode, ac);
    const taps = (ts: Tap[]) => ts.flatMap((t) => [t.i0, t.i1, f32bits(t.w0), f32bits(t.w1)]);
    return Uint32Array.from([...taps(ty), ...taps(tx), ...inverseRanges(ty, H), ...inverseRanges(tx, W)]);
  });
  return { H, W, OH, OW, table };
}

const INTERP_PARAMS = defineParams('InterpParams', { n: 'u32', H: 'u32', W: 'u32', OH: 'u32', OW: 'u32' });

function run(mode: 0 | 1, p: Plan, src: Tensor, out: Tensor): void {
  if (!out.size) return;
  const params = INTERP_PARAMS.pack({ n: out.size, H: p.H, W: p.W, OH: p.OH, OW: p.OW });
  launch(src.ctx, shader('interp', { MODE: mode }, INTERP_PARAMS), [src.buffer, out.buffer, p.table], params, grid1D(out.size, 256));
}

function resampleForward(x: Tensor, p: Plan): Tensor {
  const y = Tensor.empty([x.shape[0], x.shape[1], p.OH, p.OW], 'f32', x.ctx);
  run(0, p, x, y);
  return record('interpolate', [x], y, (g) => [resampleBackward(g, p)]);
}

function resampleBackward(g: Tensor, p: Plan): Tensor {
  const gx = Tensor.empty([g.shape[0], g.shape[1], p.H, p.W], 'f32', g.ctx);
  run(1, p, g, gx);
  return record('interpolateBackward', [g], gx, (gg) => [resampleForward(gg, p)]);
}

/** F.interpolate for NCHW input: 'nearest' (default), 'nearest-exact' or 'bilinear' (alignCorners false by default). */
export function interpolate(x: Tensor, opts: InterpolateOptions): Tensor {
  return resampleForward(x, plan(x, opts));
}
