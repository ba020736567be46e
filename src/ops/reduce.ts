import { record } from '../autograd/record.js';
import { Tensor } from '../autograd/tensor.js';
import { div, eq, exp, mul, sub } from './elementwise.js';
import { reduceKernel, reducedShape } from './kernels/reduce.js';
import { broadcastTo, reshape } from './shape.js';
import { assertFloat, normAxes } from './util.js';

// sumToShape (the vjp of broadcasting) lives in shape.ts beside broadcastTo, its own vjp.
export { sumToShape } from './shape.js';

type Axes = number | readonly number[] | undefined;

function finishShape(op: string, x: Tensor, y: Tensor, axes: number[], keepdim: boolean, vjp: (g: Tensor) => Tensor): Tensor {
  const out = record(op, [x], y, (g) => [vjp(g)]);
  if (keepdim) return out;
  const r = reshape(out, reducedShape(x.shape, axes, false));
  out.dispose();
  return r;
}

function prepare(op: string, x: Tensor, axes: Axes): number[] {
  assertFloat(op, x);
  return normAxes(op, axes, x.ndim);
}

export function sum(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  const ax = prepare('sum', x, axes);
  return finishShape('sum', x, reduceKernel(x, ax, 'sum'), ax, keepdim, (g) => broadcastTo(g, x.shape));
}

export function mean(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  const ax = prepare('mean', x, axes);
  const n = ax.reduce((k, a) => k * x.shape[a], 1);
  const s = reduceKernel(x, ax, 'sum');
  const y = mul(s, 1 / n);
  s.dispose();
  return finishShape('mean', x, y, ax, keepdim, (g) => mul(broadcastTo(g, x.shape), 1 / n));
}

function extremum(op: 'max' | 'min', x: Tensor, axes: Axes, keepdim: boolean): Tensor {
  const ax = prepare(op, x, axes);
  const y = reduceKernel(x, ax, op);
  // Ties share the gradient equally, as torch.amax/amin do.
  return finishShape(op, x, y, ax, keepdim, (g) => {
    const hit = eq(x, y);
    const count = sum(hit, ax, true);
    return mul(hit, div(g, count));
  });
}

export const max = (x: Tensor, axes?: Axes, keepdim = false) => extremum('max', x, axes, keepdim);
export const min = (x: Tensor, axes?: Axes, keepdim = false) => extremum('min', x, axes, keepdim);

export function logsumexp(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  const ax = prepare('logsumexp', x, axes);
  const y = reduceKernel(x, ax, 'logsumexp');
  return finishShape('logsumexp', x, y, ax, keepdim, (g) => mul(g, exp(sub(x, y))));
}

/** Variance with Bessel's correction by default (correction 1), as torch.var. */
export function variance(x: Tensor, axes?: Axes, { keepdim = false, correction = 1 }: { keepdim?: boolean; correction?: number } = {}): Tensor {
  const ax = prepare('var', x, axes);
  const n = ax.reduce((k, a) => k * x.shape[a], 1);
  const ss = reduceKernel(x, ax, 'sqdev');
  const y = mul(ss, 1 / Math.max(0, n - correction));
  ss.dispose();
  return finishShape('var', x, y, ax, keepdim, (g) => {
    const m = mean(x, ax, true);
    return mul(mul(g, sub(x, m)), 2 / Math.max(0, n - correction));
  });
}
