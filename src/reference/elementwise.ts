import { type NDArray, type Operand, broadcastShapes, broadcastStrides, forEachBroadcast, nd, toND } from './core.ts';

export function map(x: NDArray, f: (v: number) => number): NDArray {
  const out = nd(x.shape);
  for (let i = 0; i < x.data.length; i++) out.data[i] = f(x.data[i]);
  return out;
}

/** Applies `f` elementwise over the NumPy broadcast of any number of operands. */
export function zipBroadcast(operands: readonly Operand[], f: (...v: number[]) => number): NDArray {
  const arrays = operands.map(toND);
  const shape = arrays.map((a) => a.shape).reduce((s, t) => broadcastShapes(s, t));
  const strides = arrays.map((a) => broadcastStrides(a.shape, shape));
  const out = nd(shape);
  const vals = new Array<number>(arrays.length);
  forEachBroadcast(shape, strides, (i, offsets) => {
    for (let k = 0; k < arrays.length; k++) vals[k] = arrays[k].data[offsets[k]];
    out.data[i] = f(...vals);
  });
  return out;
}

const binary = (f: (a: number, b: number) => number) => (a: Operand, b: Operand) => zipBroadcast([a, b], f);
const bool = (v: boolean) => (v ? 1 : 0);

export const add = binary((a, b) => a + b);
export const sub = binary((a, b) => a - b);
export const mul = binary((a, b) => a * b);
export const div = binary((a, b) => a / b);
export const pow = binary((a, b) => a ** b);
// torch.maximum/minimum propagate NaN; Math.max/min do too.
export const maximum = binary(Math.max);
export const minimum = binary(Math.min);
export const eq = binary((a, b) => bool(a === b));
export const ne = binary((a, b) => bool(a !== b));
export const lt = binary((a, b) => bool(a < b));
export const le = binary((a, b) => bool(a <= b));
export const gt = binary((a, b) => bool(a > b));
export const ge = binary((a, b) => bool(a >= b));

/** torch.where: picks `a` where `cond` is nonzero, otherwise `b`; all three broadcast. */
export function where(cond: Operand, a: Operand, b: Operand): NDArray {
  return zipBroadcast([cond, a, b], (c, x, y) => (c !== 0 ? x : y));
}

/** torch.clamp with optional bounds; NaN inputs stay NaN. */
export function clamp(x: NDArray, lo?: number, hi?: number): NDArray {
  return map(x, (v) => {
    if (Number.isNaN(v)) return v;
    if (lo !== undefined && v < lo) v = lo;
    if (hi !== undefined && v > hi) v = hi;
    return v;
  });
}

const unary = (f: (v: number) => number) => (x: NDArray) => map(x, f);

export const exp = unary(Math.exp);
export const log = unary(Math.log);
export const sqrt = unary(Math.sqrt);
export const rsqrt = unary((v) => 1 / Math.sqrt(v));
export const abs = unary(Math.abs);
export const neg = unary((v) => -v);
export const sin = unary(Math.sin);
export const cos = unary(Math.cos);
export const tanh = unary(Math.tanh);
export const sign = unary((v) => (Number.isNaN(v) ? v : v > 0 ? 1 : v < 0 ? -1 : 0));
export const square = unary((v) => v * v);
export const reciprocal = unary((v) => 1 / v);
