import { fusedOrComposed, record } from '../autograd/record.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { zerosLike } from './creation.js';
import { mul, unaryOp } from './elementwise.js';
import { concat, narrow } from './shape.js';
import { assertFloat } from './util.js';
import { actGradKernel, gegluKernel } from './kernels/elementwise.js';

// Activations as a table of WGSL expressions of x (and the f32 params s0, s1): the function, its first
// and its second derivative. The forward runs through elementwise.ts's unaryOp (shaders/unary.wgsl,
// which provides erf_approx); the vjp g·f'(x) is one fused kernel (shaders/act.wgsl), itself a
// recorded op whose vjp uses f'' — so second-order gradients (createGraph) are exact. A third-order
// gradient through an activation throws.

interface ActRule {
  f: string;
  d1: string;
  /** null: f'' = 0 (piecewise linear). */
  d2: string | null;
}

const sig = (v: string) => `(1.0 / (1.0 + exp(-(${v}))))`;
// tanh of a clamped argument: tanh(±15) is ±1 in f32, and some drivers' tanh overflows to NaN for large inputs.
const tanhc = (v: string) => `tanh(clamp(${v}, -15.0, 15.0))`;

const PHI = '(0.5 * (1.0 + erf_approx(x * 0.7071067811865476)))';
const PDF = '(0.3989422804014327 * exp(-0.5 * x * x))';

const GT_U = '(0.7978845608028654 * (x + 0.044715 * x * x * x))';
const GT_T = tanhc(GT_U);
const GT_DU = '(0.7978845608028654 * (1.0 + 0.134145 * x * x))';
const GT_D2U = '(0.21406493205386768 * x)'; // 0.7978845608028654 · 6 · 0.044715

/** x·σ(a·x) (quickGelu a = 1.702, silu a = 1). */
function xSigmoid(a: number): ActRule {
  const s = sig(`${a.toFixed(6)} * x`);
  const A = a.toFixed(6);
  return {
    f: `x * ${s}`,
    d1: `${s} + ${A} * x * ${s} * (1.0 - ${s})`,
    d2: `${A} * ${s} * (1.0 - ${s}) * (2.0 + ${A} * x * (1.0 - 2.0 * ${s}))`,
  };
}

const SP = 'select(log(1.0 + exp(x)), x, x > 20.0)'; // softplus, threshold 20 (as F.softplus / F.mish)
const MT = tanhc(SP);
const MS = sig('x');

const ACT = {
  gelu: { f: `x * ${PHI}`, d1: `${PHI} + x * ${PDF}`, d2: `${PDF} * (2.0 - x * x)` },
  geluTanh: {
    f: `0.5 * x * (1.0 + ${GT_T})`,
    d1: `0.5 * (1.0 + ${GT_T}) + 0.5 * x * (1.0 - ${GT_T} * ${GT_T}) * ${GT_DU}`,
    d2: `(1.0 - ${GT_T} * ${GT_T}) * (${GT_DU} + 0.5 * x * (${GT_D2U} - 2.0 * ${GT_T} * ${GT_DU} * ${GT_DU}))`,
  },
  quickGelu: xSigmoid(1.702),
  silu: xSigmoid(1),
  mish: {
    f: `x * ${MT}`,
    d1: `${MT} + x * (1.0 - ${MT} * ${MT}) * ${MS}`,
    d2: `(1.0 - ${MT} * ${MT}) * ${MS} * (2.0 + x * (1.0 - ${MS} - 2.0 * ${MT} * ${MS}))`,
  },
  // s0 = beta, s1 = threshold: linear where beta·x > threshold.
  softplus: {
    f: 'select(log(1.0 + exp(s0 * x)) / s0, x, s0 * x > s1)',
    d1: `select(${sig('s0 * x')}, 1.0, s0 * x > s1)`,
    d2: `select(s0 * ${sig('s0 * x')} * (1.0 - ${sig('s0 * x')}), 0.0, s0 * x > s1)`,
  },
  // s0 = negative slope; the gradient at 0 is the slope, as PyTorch.
  leakyRelu: { f: 'select(s0 * x, x, x > 0.0)', d1: 'select(s0, 1.0, x > 0.0)', d2: null },
} satisfies Record<string, ActRule>;

export type ActivationName = keyof typeof ACT;

const gradKernel = actGradKernel;

/** g·f^(order)(x) as a recorded op: d/dx = g·f^(order+1)(x), d/dg = f^(order)(x). */
function actGrad(name: string, rule: ActRule, order: 1 | 2, x: Tensor, g: Tensor, s0: number, s1: number): Tensor {
  const expr = order === 1 ? rule.d1 : rule.d2;
  if (expr === null) return zerosLike(x);
  const out = gradKernel(x, g, expr, s0, s1);
  return record(`${name}Grad${order}`, [x, g], out, (gg) => [
    x.requiresGrad
      ? order === 1
        ? actGrad(name, rule, 2, x, mul(g, gg), s0, s1)
        : thirdOrder(name)
      : null,
    g.requiresGrad ? actGrad(name, rule, order, x, gg, s0, s1) : null,
  ]);
}

function thirdOrder(name: string): never {
  throw new Error(`cflens: ${name}: third-order gradients of activations are not supported`);
}

/** Applies a table activation (differentiable to second order). */
export function activation(name: ActivationName, x: Tensor, s0 = 0, s1 = 0): Tensor {
  assertFloat(name, x);
  const rule: ActRule = ACT[name];
  return unaryOp(name, x, { expr: rule.f, vjp: (xx, _y, g) => actGrad(name, rule, 1, xx, g, s0, s1) }, s0, s1);
}

/** GELU: exact (erf) by default, or PyTorch's tanh approximation. */
export function gelu(x: Tensor, { approximate = 'none' }: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  return activation(approximate === 'tanh' ? 'geluTanh' : 'gelu', x);
}

/** x·σ(1.702x), CLIP's activation. */
export const quickGelu = (x: Tensor): Tensor => activation('quickGelu', x);

/** x·σ(x) (swish). */
export const silu = (x: Tensor): Tensor => activation('silu', x);

/** x·tanh(softplus(x)). */
export const mish = (x: Tensor): Tensor => activation('mish', x);

/** log(1 + e^{βx})/β, linear where βx > threshold (torch.nn.functional.softplus). */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  if (beta === 0) throw new Error('cflens: softplus: beta must not be 0');
  return activation('softplus', x, beta, threshold);
}

/** max(x, 0) + slope·min(x, 0). */
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor => activation('leakyRelu', x, slope);

/**
 * diffusers GEGLU after its projection: the last axis holds [hidden | gate] (two halves);
 * out = hidden · gelu(gate). Forward and backward are one fused kernel each; under createGraph the vjp
 * is composed of differentiable ops.
 */
export function geglu(x: Tensor, { approximate = 'none' }: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  assertFloat('geglu', x);
  const two = x.shape[x.ndim - 1];
  if (x.ndim === 0 || two % 2 !== 0) throw new Error(`cflens: geglu: the last axis of ${shapeStr(x.shape)} must have even length`);
  const D = two / 2;
  const name: ActivationName = approximate === 'tanh' ? 'geluTanh' : 'gelu';
  const rule: ActRule = ACT[name];
  const fill = { F: rule.f, D1: rule.d1 };
  const y = Tensor.empty([...x.shape.slice(0, -1), D], 'f32', x.ctx);
  gegluKernel(0, fill, x, null, y, D);
  return record('geglu', [x], y, (g) => fusedOrComposed(() => {
    const dx = Tensor.empty(x.shape, 'f32', x.ctx);
    gegluKernel(1, fill, x, g, dx, D);
    return [dx];
  }, () => {
    const h = narrow(x, -1, 0, D);
    const gate = narrow(x, -1, D, D);
    return [concat([mul(g, activation(name, gate)), actGrad(name, rule, 1, gate, mul(g, h), 0, 0)], -1)];
  }));
}
