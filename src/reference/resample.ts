import { type NDArray, nd } from './core.ts';

export interface InterpolateOptions {
  size?: [number, number];
  scaleFactor?: number | [number, number];
  mode: 'nearest' | 'nearest-exact' | 'bilinear';
  alignCorners?: boolean;
  /** As torch: when true, the kernel uses in/out instead of 1/scaleFactor. */
  recomputeScaleFactor?: boolean;
}

/**
 * Per-axis sizes and the source-per-destination scale exactly as F.interpolate computes them:
 * with a scale factor (and no recompute) the kernel uses 1/scaleFactor, otherwise in/out.
 */
function axisPlans(inH: number, inW: number, opts: InterpolateOptions): { out: number; inverseScale: number }[] {
  if ((opts.size === undefined) === (opts.scaleFactor === undefined)) {
    throw new Error('interpolate: give exactly one of size and scaleFactor');
  }
  const inSizes = [inH, inW];
  if (opts.size) return inSizes.map((n, i) => ({ out: opts.size![i], inverseScale: n / opts.size![i] }));
  const sf = typeof opts.scaleFactor === 'number' ? [opts.scaleFactor, opts.scaleFactor] : opts.scaleFactor!;
  return inSizes.map((n, i) => {
    const out = Math.floor(n * sf[i]);
    return { out, inverseScale: opts.recomputeScaleFactor ? n / out : 1 / sf[i] };
  });
}

/**
 * Source index for nearest modes, mirroring PyTorch's nearest_idx / nearest_exact_idx: the
 * same-size and exact-2x shortcuts (which win over a given scale factor) and the float32
 * scale, with the nearest product rounded to float32, so ties pick the same pixel.
 */
function nearestIndex(dst: number, inSize: number, outSize: number, inverseScale: number, exact: boolean): number {
  const scale = Math.fround(inverseScale);
  if (exact) return Math.min(Math.floor((dst + 0.5) * scale), inSize - 1);
  if (outSize === inSize) return dst;
  if (outSize === 2 * inSize) return dst >> 1;
  return Math.min(Math.floor(Math.fround(dst * scale)), inSize - 1);
}

/** Two taps and weights per destination index for linear interpolation, as torch's upsample_bilinear2d. */
function linearTaps(inSize: number, outSize: number, inverseScale: number, alignCorners: boolean) {
  return Array.from({ length: outSize }, (_, dst) => {
    let src: number;
    if (alignCorners) {
      src = outSize > 1 ? ((inSize - 1) / (outSize - 1)) * dst : 0;
    } else {
      src = Math.max(inverseScale * (dst + 0.5) - 0.5, 0);
    }
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const l1 = Math.min(Math.max(src - i0, 0), 1);
    return { i0, i1, w0: 1 - l1, w1: l1 };
  });
}

/** F.interpolate on NCHW input for the nearest, nearest-exact and bilinear modes. */
export function interpolate(x: NDArray, opts: InterpolateOptions): NDArray {
  if (x.shape.length !== 4) throw new Error(`interpolate: input must be NCHW, got [${x.shape.join(', ')}]`);
  const [N, C, H, W] = x.shape;
  const [ph, pw] = axisPlans(H, W, opts);
  const OH = ph.out;
  const OW = pw.out;
  if (OH <= 0 || OW <= 0) throw new Error(`interpolate: output size ${OH}x${OW} is not positive`);
  const out = nd([N, C, OH, OW]);
  if (opts.mode === 'bilinear') {
    const ty = linearTaps(H, OH, ph.inverseScale, opts.alignCorners ?? false);
    const tx = linearTaps(W, OW, pw.inverseScale, opts.alignCorners ?? false);
    let o = 0;
    for (let plane = 0; plane < N * C; plane++) {
      const base = plane * H * W;
      for (const y of ty) {
        for (const t of tx) {
          const top = x.data[base + y.i0 * W + t.i0] * t.w0 + x.data[base + y.i0 * W + t.i1] * t.w1;
          const bottom = x.data[base + y.i1 * W + t.i0] * t.w0 + x.data[base + y.i1 * W + t.i1] * t.w1;
          out.data[o++] = y.w0 * top + y.w1 * bottom;
        }
      }
    }
    return out;
  }
  if (opts.alignCorners !== undefined) throw new Error('interpolate: alignCorners only applies to bilinear');
  const exact = opts.mode === 'nearest-exact';
  const sy = Array.from({ length: OH }, (_, d) => nearestIndex(d, H, OH, ph.inverseScale, exact));
  const sx = Array.from({ length: OW }, (_, d) => nearestIndex(d, W, OW, pw.inverseScale, exact));
  let o = 0;
  for (let plane = 0; plane < N * C; plane++) {
    const base = plane * H * W;
    for (const y of sy) for (const xi of sx) out.data[o++] = x.data[base + y * W + xi];
  }
  return out;
}
