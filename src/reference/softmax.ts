import { type NDArray, nd, normAxis, numel } from './core.ts';
import { logsumexpOf } from './reduce.ts';

/** Applies `f` to every 1-D lane of `x` along `axis`, writing a lane of the same length. */
export function mapLanes(x: NDArray, axis: number, f: (lane: number[]) => number[]): NDArray {
  const a = normAxis(axis, x.shape.length);
  const n = x.shape[a];
  const inner = numel(x.shape.slice(a + 1));
  const outer = numel(x.shape.slice(0, a));
  const out = nd(x.shape);
  const lane = new Array<number>(n);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      for (let j = 0; j < n; j++) lane[j] = x.data[base + j * inner];
      const res = f(lane);
      for (let j = 0; j < n; j++) out.data[base + j * inner] = res[j];
    }
  }
  return out;
}

export function logSoftmax(x: NDArray, axis = -1): NDArray {
  return mapLanes(x, axis, (lane) => {
    const lse = logsumexpOf(lane);
    return lane.map((v) => v - lse);
  });
}

/** Softmax; a lane that is entirely -inf gives NaN, as PyTorch. */
export function softmax(x: NDArray, axis = -1): NDArray {
  return mapLanes(x, axis, (lane) => {
    const m = lane.reduce((a, b) => Math.max(a, b), -Infinity);
    const e = lane.map((v) => Math.exp(v - m));
    const total = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / total);
  });
}
