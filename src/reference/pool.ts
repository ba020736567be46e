import { type NDArray, nd, pair } from './core.ts';

type Pair = number | [number, number];

export interface AvgPool2dOptions {
  countIncludePad?: boolean;
  ceilMode?: boolean;
  divisorOverride?: number;
}

export interface MaxPool2dOptions {
  dilation?: Pair;
  ceilMode?: boolean;
}

/** PyTorch's pooling_output_shape, including its ceil-mode rule that the last window must start inside. */
function pooledSize(size: number, kernel: number, stride: number, pad: number, dilation: number, ceil: boolean): number {
  let out = Math.floor((size + 2 * pad - dilation * (kernel - 1) - 1 + (ceil ? stride - 1 : 0)) / stride) + 1;
  if (ceil && (out - 1) * stride >= size + pad) out--;
  if (out <= 0) throw new Error(`pool: output size ${out} is not positive`);
  return out;
}

function poolGeometry(x: NDArray, kernel: Pair, stride: Pair | undefined, padding: Pair, dilation: Pair, ceil: boolean, op: string) {
  if (x.shape.length !== 4) throw new Error(`${op}: input must be NCHW, got [${x.shape.join(', ')}]`);
  const [kh, kw] = pair(kernel, 'kernel');
  const [sh, sw] = pair(stride ?? kernel, 'stride');
  const [ph, pw] = pair(padding, 'padding');
  const [dh, dw] = pair(dilation, 'dilation');
  if (ph > kh / 2 || pw > kw / 2) throw new Error(`${op}: padding must be at most half the kernel size`);
  const [N, C, H, W] = x.shape;
  const OH = pooledSize(H, kh, sh, ph, dh, ceil);
  const OW = pooledSize(W, kw, sw, pw, dw, ceil);
  return { N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw };
}

/** F.avg_pool2d; stride defaults to the kernel size. */
export function avgPool2d(x: NDArray, kernel: Pair, stride?: Pair, padding: Pair = 0, opts: AvgPool2dOptions = {}): NDArray {
  const g = poolGeometry(x, kernel, stride, padding, 1, opts.ceilMode ?? false, 'avgPool2d');
  const countIncludePad = opts.countIncludePad ?? true;
  const out = nd([g.N, g.C, g.OH, g.OW]);
  let o = 0;
  for (let plane = 0; plane < g.N * g.C; plane++) {
    const base = plane * g.H * g.W;
    for (let oh = 0; oh < g.OH; oh++) {
      for (let ow = 0; ow < g.OW; ow++) {
        let h0 = oh * g.sh - g.ph;
        let w0 = ow * g.sw - g.pw;
        let h1 = Math.min(h0 + g.kh, g.H + g.ph);
        let w1 = Math.min(w0 + g.kw, g.W + g.pw);
        // The padded window size counts padding but not the ceil-mode overhang past it.
        const paddedSize = (h1 - h0) * (w1 - w0);
        h0 = Math.max(h0, 0);
        w0 = Math.max(w0, 0);
        h1 = Math.min(h1, g.H);
        w1 = Math.min(w1, g.W);
        let acc = 0;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) acc += x.data[base + h * g.W + w];
        const divisor = opts.divisorOverride ?? (countIncludePad ? paddedSize : (h1 - h0) * (w1 - w0));
        out.data[o++] = h0 >= h1 || w0 >= w1 ? 0 : acc / divisor;
      }
    }
  }
  return out;
}

/** F.max_pool2d; padding acts as -inf, NaN propagates. Stride defaults to the kernel size. */
export function maxPool2d(x: NDArray, kernel: Pair, stride?: Pair, padding: Pair = 0, opts: MaxPool2dOptions = {}): NDArray {
  const g = poolGeometry(x, kernel, stride, padding, opts.dilation ?? 1, opts.ceilMode ?? false, 'maxPool2d');
  const out = nd([g.N, g.C, g.OH, g.OW]);
  let o = 0;
  for (let plane = 0; plane < g.N * g.C; plane++) {
    const base = plane * g.H * g.W;
    for (let oh = 0; oh < g.OH; oh++) {
      for (let ow = 0; ow < g.OW; ow++) {
        let best = -Infinity;
        for (let i = 0; i < g.kh; i++) {
          const h = oh * g.sh - g.ph + i * g.dh;
          if (h < 0 || h >= g.H) continue;
          for (let j = 0; j < g.kw; j++) {
            const w = ow * g.sw - g.pw + j * g.dw;
            if (w < 0 || w >= g.W) continue;
            const v = x.data[base + h * g.W + w];
            if (v > best || Number.isNaN(v)) best = v;
          }
        }
        out.data[o++] = best;
      }
    }
  }
  return out;
}

/** F.adaptive_avg_pool2d: bin i covers [floor(i·H/oh), ceil((i+1)·H/oh)). */
export function adaptiveAvgPool2d(x: NDArray, outputSize: Pair): NDArray {
  if (x.shape.length !== 4) throw new Error(`adaptiveAvgPool2d: input must be NCHW, got [${x.shape.join(', ')}]`);
  const [N, C, H, W] = x.shape;
  const [OH, OW] = pair(outputSize, 'outputSize');
  const out = nd([N, C, OH, OW]);
  let o = 0;
  for (let plane = 0; plane < N * C; plane++) {
    const base = plane * H * W;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = Math.floor((oh * H) / OH);
      const h1 = Math.ceil(((oh + 1) * H) / OH);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = Math.floor((ow * W) / OW);
        const w1 = Math.ceil(((ow + 1) * W) / OW);
        let acc = 0;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) acc += x.data[base + h * W + w];
        out.data[o++] = acc / ((h1 - h0) * (w1 - w0));
      }
    }
  }
  return out;
}
