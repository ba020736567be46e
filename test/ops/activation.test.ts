import { beforeAll, describe, expect, it } from 'vitest';
import {
  fromArray, geglu, gelu, grad, gradcheck, leakyRelu, mish, quickGelu, sigmoid, silu, softplus, sum, tidy,
  type GpuContext, type Tensor,
} from '../../src/index.js';
import * as ref from '../../src/reference/index.ts';
import { assertClose, checkOp, randomArray, setupGpu, up } from '../helpers/gpu.js';
import { loadFamily, matchFixture } from '../helpers/op-fixtures.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

// ---------------------------------------------------------------------------------------------
// Fixtures (PyTorch): NAME.<input>, NAME.out, NAME.R, NAME.grad_<input> = d sum(out·R) / d input.

describe('PyTorch fixtures (test/fixtures/ops/act.*)', () => {
  it('gelu (erf and tanh), quickGelu, silu, sigmoid, geglu: out and grad_x', async () => {
    const fam = await loadFamily('act');
    const fns: Record<string, (x: Tensor) => Tensor> = {
      gelu_erf: (x) => gelu(x),
      gelu_tanh: (x) => gelu(x, { approximate: 'tanh' }),
      quick_gelu: quickGelu,
      silu,
      sigmoid,
      geglu: (x) => geglu(x),
    };
    expect(Object.keys(fam.meta.cases).sort()).toEqual(Object.keys(fns).sort());
    for (const [name, fn] of Object.entries(fns)) {
      expect(await matchFixture(fam, name, ['x'], ({ x }) => fn(x)), name).toBe(1);
    }
  });
});

// ---------------------------------------------------------------------------------------------

const TABLE: Array<{ name: string; gpu: (x: Tensor) => Tensor; cpu: (x: ref.NDArray) => ref.NDArray; range?: [number, number] }> = [
  { name: 'gelu (erf)', gpu: (x) => gelu(x), cpu: ref.gelu },
  { name: 'gelu (tanh)', gpu: (x) => gelu(x, { approximate: 'tanh' }), cpu: ref.geluTanh },
  { name: 'quickGelu', gpu: quickGelu, cpu: ref.quickGelu },
  { name: 'silu', gpu: silu, cpu: ref.silu },
  { name: 'mish', gpu: mish, cpu: ref.mish },
  { name: 'softplus', gpu: (x) => softplus(x), cpu: (x) => ref.softplus(x) },
  { name: 'softplus β=2, threshold 3 (linear part)', gpu: (x) => softplus(x, 2, 3), cpu: (x) => ref.softplus(x, 2, 3) },
  { name: 'leakyRelu 0.2', gpu: (x) => leakyRelu(x, 0.2), cpu: (x) => ref.leakyRelu(x, 0.2) },
];

describe('activations vs reference: forward, gradcheck, second-order gradcheck', () => {
  for (const a of TABLE) {
    it(a.name, async () => {
      const [lo, hi] = a.range ?? [-4, 4];
      await checkOp(a.name, a.gpu, a.cpu, [randomArray([3, 17], 5, lo, hi)], { atol: 1e-5, rtol: 1e-4, eps: 1e-4 });
      // d/dx of the vjp (createGraph): against finite differences of a finite-difference gradient.
      const R = randomArray([2, 9], 6, -1, 1);
      const Rt = up(R);
      const r = await gradcheck(
        ctx,
        (x) => {
          const y = a.gpu(x);
          const [gx] = grad(y, [x], [Rt], { createGraph: true });
          return gx!;
        },
        (x) => numericGrad(a.cpu, x, R.data),
        [randomArray([2, 9], 7, lo, hi)],
        { eps: 1e-4, atol: 2e-3, rtol: 2e-2 },
      );
      expect(r.ok, r.messages.join('; ')).toBe(true);
    });
  }

  it('large inputs stay finite and exact (no tanh/exp overflow): ±30, ±100, ±1e4', async () => {
    const v = [-1e4, -100, -30, -20, -10, 10, 20, 30, 100, 1e4];
    const x = fromArray(v, [v.length], { ctx });
    for (const a of TABLE) {
      const got = await a.gpu(x).toArray();
      expect(Array.from(got).every(Number.isFinite), a.name).toBe(true);
      assertClose(got, a.cpu(ref.nd([v.length], v)).data, { atol: 1e-5, rtol: 1e-5 }, a.name);
      const xg = fromArray(v, [v.length], { ctx, requiresGrad: true });
      sum(a.gpu(xg)).backward();
      expect(Array.from(await xg.grad!.toArray()).every(Number.isFinite), `${a.name} grad`).toBe(true);
    }
  });

  it('leakyRelu: gradient at 0 is the slope (PyTorch); NaN propagates', async () => {
    const x = fromArray([0, -1, 2, NaN], [4], { ctx, requiresGrad: true });
    const y = leakyRelu(x, 0.1);
    const out = await y.toArray();
    expect(Array.from(out.slice(0, 3))).toEqual([0, Math.fround(-0.1), 2]);
    expect(out[3]).toBeNaN();
    sum(y).backward();
    expect(Array.from((await x.grad!.toArray()).slice(0, 3))).toEqual([Math.fround(0.1), Math.fround(0.1), 1]);
  });

  it('third-order gradients through an activation throw a clear error', () => {
    const x = up(randomArray([4], 8), true);
    const [g1] = grad(sum(gelu(x)), [x], undefined, { createGraph: true });
    const [g2] = grad(sum(g1!), [x], undefined, { createGraph: true });
    expect(() => grad(sum(g2!), [x])).toThrow(/gelu: third-order gradients of activations are not supported/);
  });

  it('method-free use on a 0-d tensor and an empty tensor', async () => {
    expect(await silu(fromArray([2], [], { ctx })).item()).toBeCloseTo(2 / (1 + Math.exp(-2)), 6);
    expect(gelu(fromArray([], [0, 3], { ctx })).shape).toEqual([0, 3]);
  });
});

/** Central-difference gradient of sum(f(x)·R) on the CPU (f64). */
function numericGrad(f: (x: ref.NDArray) => ref.NDArray, x: ref.NDArray, R: Float64Array, h = 1e-5): ref.NDArray {
  const out = new Float64Array(x.data.length);
  const loss = (d: Float64Array) => f({ shape: x.shape, data: d }).data.reduce((s, v, i) => s + v * R[i], 0);
  for (let j = 0; j < out.length; j++) {
    const p = Float64Array.from(x.data);
    const m = Float64Array.from(x.data);
    p[j] += h;
    m[j] -= h;
    out[j] = (loss(p) - loss(m)) / (2 * h);
  }
  return { shape: [...x.shape], data: out };
}

describe('geglu (fused)', () => {
  const refGeglu = (approx: boolean) => (x: ref.NDArray) => {
    const D = x.shape[x.shape.length - 1] / 2;
    const last = x.shape.length - 1;
    const g = ref.narrow(x, last, D, D);
    return ref.mul(ref.narrow(x, last, 0, D), approx ? ref.geluTanh(g) : ref.gelu(g));
  };
  for (const approx of [false, true]) {
    it(`[2, 3, 10] → [2, 3, 5]${approx ? ' (tanh gelu)' : ''}: forward, gradcheck, second order`, async () => {
      const fn = (x: Tensor) => geglu(x, { approximate: approx ? 'tanh' : 'none' });
      await checkOp('geglu', fn, refGeglu(approx), [randomArray([2, 3, 10], 9, -3, 3)], { atol: 1e-5, rtol: 1e-4, eps: 1e-4 });
      const R = randomArray([2, 3, 5], 10, -1, 1);
      const Rt = up(R);
      const r = await gradcheck(
        ctx,
        (x) => {
          const [gx] = grad(fn(x), [x], [Rt], { createGraph: true });
          return gx!;
        },
        (x) => numericGrad(refGeglu(approx), x, R.data),
        [randomArray([2, 3, 10], 11, -3, 3)],
        { eps: 1e-4, atol: 2e-3, rtol: 2e-2 },
      );
      expect(r.ok, r.messages.join('; ')).toBe(true);
    });
  }

  it('odd last axis: error names the op and the shape', () => {
    expect(() => geglu(up(randomArray([2, 5], 12)))).toThrow(/geglu: the last axis of \[2, 5\] must have even length/);
  });

  it('fused backward equals the composed (createGraph) one', async () => {
    const xa = randomArray([4, 12], 13, -3, 3);
    const Ra = randomArray([4, 6], 14, -1, 1);
    const run = async (createGraph: boolean) => {
      const x = up(xa, true);
      const g = tidy(() => grad(geglu(x), [x], [up(Ra)], { createGraph })[0]!);
      return g.toArray();
    };
    assertClose(await run(true), await run(false), { atol: 1e-6, rtol: 1e-5 });
  });
});
