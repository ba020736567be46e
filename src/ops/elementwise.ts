import { fusedOrComposed, record } from '../autograd/record.js';
import { Tensor } from '../autograd/tensor.js';
import { fromArray, zerosLike } from './creation.js';
import { sumToShape } from './shape.js';
import { assertFloat, broadcastShapes, sameCtx, type TensorLike } from './util.js';
import { mapKernel, whereKernel, zipKernel } from './kernels/elementwise.js';

export { mapKernel, zipKernel } from './kernels/elementwise.js';

function scalarLike(v: number, like: Tensor): Tensor {
  return fromArray([v], [], { ctx: like.ctx });
}

/** Both operands as tensors; numbers become 0-d tensors that the caller disposes. */
function operands(op: string, a: TensorLike, b: TensorLike): [Tensor, Tensor, Tensor[]] {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`cflens: ${op}: at least one operand must be a tensor`);
  const temps: Tensor[] = [];
  const ta = typeof a === 'number' ? (temps.push(scalarLike(a, b as Tensor)), temps[temps.length - 1]) : a;
  const tb = typeof b === 'number' ? (temps.push(scalarLike(b, a as Tensor)), temps[temps.length - 1]) : b;
  assertFloat(op, ta, tb);
  sameCtx(op, ta, tb);
  return [ta, tb, temps];
}

// ---------------------------------------------------------------------------------------------
// Unary ops: forward expression and vjp side by side (x input, y output, g output gradient).

type UnaryVjp = (x: Tensor, y: Tensor, g: Tensor) => Tensor;

/**
 * A derivative written in terms of the output y: one fused kernel in a plain backward pass; composed
 * of recorded ops when the backward pass is itself recorded (createGraph), so second order is exact.
 */
function ofOutput(y: Tensor, expr: string, composed: () => Tensor): Tensor {
  return fusedOrComposed(() => mapKernel(y, expr), composed);
}
interface UnaryRule { expr: string; vjp: UnaryVjp | null }

export type UnaryName = 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'sin' | 'cos' | 'tanh' | 'sigmoid' | 'relu' | 'sign' | 'square' | 'reciprocal';

const UNARY: Record<UnaryName, UnaryRule> = {
  neg: { expr: '-x', vjp: (_x, _y, g) => neg(g) },
  exp: { expr: 'exp(x)', vjp: (_x, y, g) => mul(g, y) },
  log: { expr: 'log(x)', vjp: (x, _y, g) => div(g, x) },
  sqrt: { expr: 'sqrt(x)', vjp: (_x, y, g) => div(g, mul(y, 2)) },
  rsqrt: { expr: 'inverseSqrt(x)', vjp: (_x, y, g) => mul(g, ofOutput(y, '-0.5 * x * x * x', () => mul(mul(mul(y, y), y), -0.5))) },
  abs: { expr: 'abs(x)', vjp: (x, _y, g) => mul(g, sign(x)) },
  sin: { expr: 'sin(x)', vjp: (x, _y, g) => mul(g, cos(x)) },
  cos: { expr: 'cos(x)', vjp: (x, _y, g) => mul(g, neg(sin(x))) },
  tanh: { expr: 'tanh(x)', vjp: (_x, y, g) => mul(g, ofOutput(y, '1.0 - x * x', () => sub(1, mul(y, y)))) },
  sigmoid: { expr: '1.0 / (1.0 + exp(-x))', vjp: (_x, y, g) => mul(g, ofOutput(y, 'x * (1.0 - x)', () => mul(y, sub(1, y)))) },
  relu: { expr: 'select(max(x, 0.0), x, is_nan(x))', vjp: (x, _y, g) => mul(g, mapKernel(x, 'select(0.0, 1.0, x > 0.0)')) },
  sign: { expr: 'sign(x)', vjp: null },
  square: { expr: 'x * x', vjp: (x, _y, g) => mul(g, mul(x, 2)) },
  reciprocal: { expr: '1.0 / x', vjp: (_x, y, g) => mul(g, ofOutput(y, '-x * x', () => neg(mul(y, y)))) },
};

/** A differentiable op given by a WGSL expression and its vjp. */
export function unaryOp(name: string, x: Tensor, rule: UnaryRule, s0 = 0, s1 = 0): Tensor {
  assertFloat(name, x);
  const y = mapKernel(x, rule.expr, s0, s1);
  const vjp = rule.vjp;
  return record(name, [x], y, (g) => [vjp ? vjp(x, y, g) : zerosLike(x)]);
}

const unary = (name: UnaryName) => (x: Tensor) => unaryOp(name, x, UNARY[name]);
export const neg = unary('neg');
export const exp = unary('exp');
export const log = unary('log');
export const sqrt = unary('sqrt');
export const rsqrt = unary('rsqrt');
export const abs = unary('abs');
export const sin = unary('sin');
export const cos = unary('cos');
export const tanh = unary('tanh');
export const sigmoid = unary('sigmoid');
export const relu = unary('relu');
export const sign = unary('sign');
export const square = unary('square');
export const reciprocal = unary('reciprocal');

/** Limits values to [min, max]; the gradient passes where min <= x <= max (as in PyTorch). */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  const lo = min ?? -3.4028234663852886e38;
  const hi = max ?? 3.4028234663852886e38;
  if (lo > hi) throw new Error(`cflens: clamp: min ${lo} is greater than max ${hi}`);
  return unaryOp('clamp', x, {
    expr: 'select(min(max(x, s0), s1), x, is_nan(x))', // NaN stays NaN, as torch.clamp
    vjp: (xx, _y, g) => mul(g, mapKernel(xx, 'select(0.0, 1.0, x >= s0 && x <= s1)', lo, hi)),
  }, lo, hi);
}

// ---------------------------------------------------------------------------------------------
// Binary ops with broadcasting; vjps reduce back to each operand's shape.

interface BinaryRule {
  expr: string;
  vjp: ((a: Tensor, b: Tensor, y: Tensor, g: Tensor) => [Tensor | null, Tensor | null]) | null;
}

const POW_EXPR = 'powf(a, b)';

export type BinaryName = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

const BINARY: Record<BinaryName, BinaryRule> = {
  add: { expr: 'a + b', vjp: (_a, _b, _y, g) => [g, g] },
  sub: { expr: 'a - b', vjp: (_a, _b, _y, g) => [g, neg(g)] },
  mul: { expr: 'a * b', vjp: (a, b, _y, g) => [mul(g, b), mul(g, a)] },
  div: { expr: 'a / b', vjp: (_a, b, y, g) => [div(g, b), neg(div(mul(g, y), b))] },
  pow: {
    expr: POW_EXPR,
    vjp: (a, b, y, g) => [mul(g, mul(b, pow(a, sub(b, 1)))), mul(g, mul(y, zipKernel('pow', a, b, 'select(0.0, log(a), a > 0.0)')))],
  },
  // WGSL's max/min may drop a NaN operand; torch.maximum/minimum propagate it.
  maximum: {
    expr: 'select(max(a, b), a + b, is_nan(a) || is_nan(b))',
    vjp: (a, b, _y, g) => {
      const wa = zipKernel('maximum', a, b, 'select(select(0.0, 0.5, a == b), 1.0, a > b)');
      return [mul(g, wa), mul(g, sub(1, wa))];
    },
  },
  minimum: {
    expr: 'select(min(a, b), a + b, is_nan(a) || is_nan(b))',
    vjp: (a, b, _y, g) => {
      const wa = zipKernel('minimum', a, b, 'select(select(0.0, 0.5, a == b), 1.0, a < b)');
      return [mul(g, wa), mul(g, sub(1, wa))];
    },
  },
  eq: { expr: 'select(0.0, 1.0, a == b)', vjp: null },
  ne: { expr: 'select(0.0, 1.0, a != b)', vjp: null },
  lt: { expr: 'select(0.0, 1.0, a < b)', vjp: null },
  le: { expr: 'select(0.0, 1.0, a <= b)', vjp: null },
  gt: { expr: 'select(0.0, 1.0, a > b)', vjp: null },
  ge: { expr: 'select(0.0, 1.0, a >= b)', vjp: null },
};

function binary(name: BinaryName) {
  const rule: BinaryRule = BINARY[name];
  return (a: TensorLike, b: TensorLike): Tensor => {
    const [ta, tb, temps] = operands(name, a, b);
    const y = zipKernel(name, ta, tb, rule.expr);
    const vjp = rule.vjp;
    const out = vjp
      ? record(name, [ta, tb], y, (g) => {
          const [ga, gb] = vjp(ta, tb, y, g);
          return [ga && ta.requiresGrad ? sumToShape(ga, ta.shape) : null, gb && tb.requiresGrad ? sumToShape(gb, tb.shape) : null];
        })
      : y;
    for (const t of temps) t.dispose();
    return out;
  };
}

export const add = binary('add');
export const sub = binary('sub');
export const mul = binary('mul');
export const div = binary('div');
export const pow = binary('pow');
export const maximum = binary('maximum');
export const minimum = binary('minimum');
export const eq = binary('eq');
export const ne = binary('ne');
export const lt = binary('lt');
export const le = binary('le');
export const gt = binary('gt');
export const ge = binary('ge');

/** cond != 0 ? a : b, broadcasting all three. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const [ta, tb, temps] = operands('where', a, b);
  assertFloat('where', cond);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, ta.shape), tb.shape);
  const y = Tensor.empty(shape, 'f32', ta.ctx);
  whereKernel(cond, ta, tb, y);
  const out = record('where', [ta, tb], y, (g) => [
    ta.requiresGrad ? sumToShape(where(cond, g, 0), ta.shape) : null,
    tb.requiresGrad ? sumToShape(where(cond, 0, g), tb.shape) : null,
  ], [cond]);
  for (const t of temps) t.dispose();
  return out;
}
