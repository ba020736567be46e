import { record } from '../autograd/record.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { assertFloat } from './util.js';
import { resampleKernel, resamplePlan, type InterpolateMode, type ResamplePlan as Plan, type ResampleGeometry } from './kernels/resample.js';

export type { InterpolateMode };

export interface InterpolateOptions {
  size?: number | readonly [number, number];
  scaleFactor?: number | readonly [number, number];
  mode?: InterpolateMode;
  /** bilinear only (default false). */
  alignCorners?: boolean;
  /** As torch: with a scale factor, index with in/out instead of 1/scaleFactor. */
  recomputeScaleFactor?: boolean;
}

function geometryOf(x: Tensor, opts: InterpolateOptions): ResampleGeometry {
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
  return { H, W, OH, OW, scales, mode, alignCorners: opts.alignCorners ?? false };
}

function resampleForward(x: Tensor, p: Plan): Tensor {
  const y = Tensor.empty([x.shape[0], x.shape[1], p.OH, p.OW], 'f32', x.ctx);
  resampleKernel('forward', p, x, y);
  return record('interpolate', [x], y, (g) => [resampleBackward(g, p)]);
}

function resampleBackward(g: Tensor, p: Plan): Tensor {
  const gx = Tensor.empty([g.shape[0], g.shape[1], p.H, p.W], 'f32', g.ctx);
  resampleKernel('adjoint', p, g, gx);
  return record('interpolateBackward', [g], gx, (gg) => [resampleForward(gg, p)]);
}

/** F.interpolate for NCHW input: 'nearest' (default), 'nearest-exact' or 'bilinear' (alignCorners false by default). */
export function interpolate(x: Tensor, opts: InterpolateOptions): Tensor {
  return resampleForward(x, resamplePlan(x.ctx, geometryOf(x, opts)));
}
