import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { mapKernel, mul, unaryOp } from './elementwise.js';
import { narrow } from './shape.js';

// Forward expression and vjp side by side; `erf_approx` lives in shaders/unary.wgsl (|error| < 1.2e-7).
const SQRT1_2 = 'x * 0.7071067811865476';
const PHI = `0.5 * (1.0 + erf_approx(${SQRT1_2}))`;
const PDF = '0.3989422804014327 * exp(-0.5 * x * x)';

/** GELU, exact (erf) by default or PyTorch's tanh approximation. */
export function gelu(x: Tensor, { approximate = 'none' }: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  if (approximate === 'tanh') {
    const inner = '0.7978845608028654 * (x + 0.044715 * x * x * x)';
    return unaryOp('gelu_tanh', x, {
      expr: `0.5 * x * (1.0 + tanh(${inner}))`,
      vjp: (xx, _y, g) => mul(g, mapKernel(xx, `0.5 * (1.0 + tanh(${inner})) + 0.5 * x * (1.0 - tanh(${inner}) * tanh(${inner})) * 0.7978845608028654 * (1.0 + 0.134145 * x * x)`)),
    });
  }
  return unaryOp('gelu', x, { expr: `x * ${PHI}`, vjp: (xx, _y, g) => mul(g, mapKernel(xx, `${PHI} + x * ${PDF}`)) });
}

/** x·σ(1.702x), CLIP's activation. */
export function quickGelu(x: Tensor): Tensor {
  const s = '(1.0 / (1.0 + exp(-1.702 * x)))';
  return unaryOp('quickGelu', x, { expr: `x * ${s}`, vjp: (xx, _y, g) => mul(g, mapKernel(xx, `${s} + 1.702 * x * ${s} * (1.0 - ${s})`)) });
}

/** x·σ(x). */
export function silu(x: Tensor): Tensor {
  const s = '(1.0 / (1.0 + exp(-x)))';
  return unaryOp('silu', x, { expr: `x * ${s}`, vjp: (xx, _y, g) => mul(g, mapKernel(xx, `${s} * (1.0 + x * (1.0 - ${s}))`)) });
}

/** log(1 + e^{βx})/β, linear above the threshold (as torch.nn.functional.softplus). */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  return unaryOp('softplus', x, {
    expr: 'select(log(1.0 + exp(s0 * x)) / s0, x, s0 * x > s1)',
    vjp: (xx, _y, g) => mul(g, mapKernel(xx, 'select(1.0 / (1.0 + exp(-s0 * x)), 1.0, s0 * x > s1)', beta, threshold)),
  }, beta, threshold);
}

/** x·tanh(softplus(x)). */
export function mish(x: Tensor): Tensor {
  const sp = 'select(log(1.0 + exp(x)), x, x > 20.0)';
  return unaryOp('mish', x, {
    expr: `x * tanh(${sp})`,
    vjp: (xx, _y, g) => mul(g, mapKernel(xx, `tanh(${sp}) + x * (1.0 - tanh(${sp}) * tanh(${sp})) / (1.0 + exp(-x))`)),
  });
}

export function leakyRelu(x: Tensor, slope = 0.01): Tensor {
  return unaryOp('leakyRelu', x, {
    expr: 'select(s0 * x, x, x > 0.0)',
    vjp: (xx, _y, g) => mul(g, mapKernel(xx, 'select(s0, 1.0, x > 0.0)', slope)),
  }, slope);
}

/** diffusers GEGLU after its projection: the last axis holds [hidden | gate]; hidden·gelu(gate). */
export function geglu(x: Tensor): Tensor {
  const half = x.shape[x.ndim - 1] / 2;
  if (!Number.isInteger(half)) throw new Error(`cflens: geglu: the last axis of ${JSON.stringify(x.shape)} must be even`);
  return tidy(() => mul(narrow(x, -1, 0, half), gelu(narrow(x, -1, half, half))));
}
