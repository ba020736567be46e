import { type NDArray, nd, shapesEqual } from './core.ts';

export interface SsimOptions {
  /** L, the dynamic range of the values. */
  dataRange?: number;
  windowSize?: number;
  sigma?: number;
}

/** Normalised 1-D Gaussian centred on the middle tap. */
export function gaussianWindow(size: number, sigma: number): number[] {
  const g = Array.from({ length: size }, (_, i) => Math.exp(-((i - (size - 1) / 2) ** 2) / (2 * sigma * sigma)));
  const total = g.reduce((a, b) => a + b, 0);
  return g.map((v) => v / total);
}

/** Valid (unpadded) separable filtering of one H×W plane. */
function filterValid(plane: Float64Array, H: number, W: number, g: number[]): { data: Float64Array; h: number; w: number } {
  const k = g.length;
  const h = H - k + 1;
  const w = W - k + 1;
  const rows = new Float64Array(H * w);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let i = 0; i < k; i++) acc += g[i] * plane[y * W + x + i];
      rows[y * w + x] = acc;
    }
  }
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let i = 0; i < k; i++) acc += g[i] * rows[(y + i) * w + x];
      out[y * w + x] = acc;
    }
  }
  return { data: out, h, w };
}

/**
 * Mean SSIM of NCHW images: Gaussian-weighted local statistics per channel (valid filtering),
 * C1 = (0.01·L)², C2 = (0.03·L)², averaged over every map position, channel and image. Returns 0-d.
 */
export function ssim(x: NDArray, y: NDArray, opts: SsimOptions = {}): NDArray {
  const { dataRange = 1, windowSize = 11, sigma = 1.5 } = opts;
  if (x.shape.length !== 4 || !shapesEqual(x.shape, y.shape)) {
    throw new Error(`ssim: inputs must be NCHW of one shape, got [${x.shape.join(', ')}] and [${y.shape.join(', ')}]`);
  }
  const [N, C, H, W] = x.shape;
  if (H < windowSize || W < windowSize) throw new Error(`ssim: ${H}x${W} image is smaller than the ${windowSize} window`);
  const g = gaussianWindow(windowSize, sigma);
  const c1 = (0.01 * dataRange) ** 2;
  const c2 = (0.03 * dataRange) ** 2;
  const plane = H * W;
  let total = 0;
  let count = 0;
  for (let p = 0; p < N * C; p++) {
    const a = x.data.subarray(p * plane, (p + 1) * plane);
    const b = y.data.subarray(p * plane, (p + 1) * plane);
    const filt = (f: (u: number, v: number) => number) =>
      filterValid(Float64Array.from(a, (u, i) => f(u, b[i])), H, W, g).data;
    const muX = filt((u) => u);
    const muY = filt((_, v) => v);
    const exx = filt((u) => u * u);
    const eyy = filt((_, v) => v * v);
    const exy = filt((u, v) => u * v);
    for (let i = 0; i < muX.length; i++) {
      const sxx = exx[i] - muX[i] * muX[i];
      const syy = eyy[i] - muY[i] * muY[i];
      const sxy = exy[i] - muX[i] * muY[i];
      const num = (2 * muX[i] * muY[i] + c1) * (2 * sxy + c2);
      const den = (muX[i] * muX[i] + muY[i] * muY[i] + c1) * (sxx + syy + c2);
      total += num / den;
      count++;
    }
  }
  return nd([], [total / count]);
}
