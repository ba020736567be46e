import { backward } from './engine.js';
import { tidy } from './scope.js';
import { Tensor, numelOf, shapeStr } from './tensor.js';
import type { GpuContext } from '../gpu/context.js';

/** A CPU array in f64, as the reference implementations use. */
export interface HostArray { shape: number[]; data: Float64Array }

export interface GradcheckOptions {
  /** Finite-difference step (f64 on the CPU reference). */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Which inputs to check (default: all). */
  wrt?: readonly number[];
  /** Seed of the random output weights R in L = sum(f(x) · R). */
  seed?: number;
}

export interface GradcheckResult {
  ok: boolean;
  /** Largest |analytic - numeric| - (atol + rtol·|numeric|) seen, per input (<= 0 passes). */
  worst: number[];
  messages: string[];
  analytic: Float64Array[];
  numeric: Float64Array[];
}

function upload(ctx: GpuContext, a: HostArray): Tensor {
  const t = Tensor.empty(a.shape, 'f32', ctx);
  if (a.data.length) ctx.writeBuffer(t.buffer, Float32Array.from(a.data));
  return t;
}

function weights(n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  const r = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    r[i] = (s / 2 ** 32) * 2 - 1;
  }
  return r;
}

/**
 * Checks a GPU op's vjp against central finite differences of its CPU reference in f64:
 * L = sum(f(x) · R) for a fixed random R; the analytic dL/dx comes from one backward() on the GPU.
 */
export async function gradcheck(
  ctx: GpuContext,
  gpuFn: (...xs: Tensor[]) => Tensor,
  refFn: (...xs: HostArray[]) => HostArray,
  rawInputs: readonly HostArray[],
  opts: GradcheckOptions = {},
): Promise<GradcheckResult> {
  // The GPU sees f32 values; the reference must see the same values.
  const inputs = rawInputs.map((a) => ({ shape: a.shape, data: Float64Array.from(Float32Array.from(a.data)) }));
  const { eps = 1e-6, atol = 1e-4, rtol = 1e-3, seed = 1234 } = opts;
  const wrt = opts.wrt ?? inputs.map((_, i) => i);
  const refOut = refFn(...inputs);
  const R = weights(refOut.data.length, seed);
  const loss = (xs: HostArray[]) => {
    const y = refFn(...xs).data;
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * R[i];
    return s;
  };

  const xs = inputs.map((a, i) => {
    const t = upload(ctx, a);
    if (wrt.includes(i)) t.requiresGrad_();
    return t;
  });
  const Rt = upload(ctx, { shape: refOut.shape, data: R });
  const analytic: Float64Array[] = [];
  try {
    const y = gpuFn(...xs);
    if (numelOf(y.shape) !== refOut.data.length) {
      throw new Error(`gradcheck: the GPU op gave shape ${shapeStr(y.shape)}, the reference ${shapeStr(refOut.shape)}`);
    }
    tidy(() => backward(y, Rt.shape.join() === y.shape.join() ? Rt : new Tensor(Rt.storage.retain(), y.shape)));
    y.dispose();
    for (const i of wrt) {
      const g = xs[i].grad;
      analytic.push(g ? Float64Array.from(await g.toArray()) : new Float64Array(inputs[i].data.length));
    }
  } finally {
    for (const t of xs) t.dispose();
    Rt.dispose();
  }

  const numeric: Float64Array[] = [];
  const worst: number[] = [];
  const messages: string[] = [];
  wrt.forEach((i, k) => {
    const base = inputs[i];
    const num = new Float64Array(base.data.length);
    for (let j = 0; j < base.data.length; j++) {
      const plus = Float64Array.from(base.data);
      const minus = Float64Array.from(base.data);
      plus[j] += eps;
      minus[j] -= eps;
      const with_ = (d: Float64Array) => inputs.map((a, m) => (m === i ? { shape: a.shape, data: d } : a));
      num[j] = (loss(with_(plus)) - loss(with_(minus))) / (2 * eps);
    }
    numeric.push(num);
    let w = -Infinity;
    let at = -1;
    for (let j = 0; j < num.length; j++) {
      const excess = Math.abs(analytic[k][j] - num[j]) - (atol + rtol * Math.abs(num[j]));
      if (!(excess <= w)) {
        w = Number.isNaN(excess) ? Infinity : excess;
        at = j;
      }
    }
    worst.push(num.length ? w : 0);
    if (w > 0) messages.push(`input ${i}: element ${at}: analytic ${analytic[k][at]} vs numeric ${num[at]}`);
  });
  return { ok: messages.length === 0, worst, messages, analytic, numeric };
}
