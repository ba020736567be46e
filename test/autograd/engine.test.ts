import { beforeAll, describe, expect, it } from 'vitest';
import {
  add, backward, checkpoint, grad, mul, noGrad, record, sum, tanh, tensor, tidy, fromArray, type Tensor, type GpuContext,
} from '../../src/index.js';
import { assertClose, setupGpu } from '../helpers/gpu.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

/** y = 0.5·x, recorded with a vjp that counts its calls. */
function counted(counter: { calls: number }) {
  return (x: Tensor) => {
    const y = noGrad(() => mul(x, 0.5));
    return record('half', [x], y, (g) => {
      counter.calls++;
      return [mul(g, 0.5)];
    });
  };
}

describe('backward', () => {
  it('accumulates through a shared sub-graph: z = y·y + y with y = tanh(x)', async () => {
    const xs = [0.3, -0.7, 1.1];
    const x = tensor(xs).requiresGrad_();
    const y = tanh(x);
    const z = sum(add(mul(y, y), y));
    z.backward();
    const expected = xs.map((v) => (2 * Math.tanh(v) + 1) * (1 - Math.tanh(v) ** 2));
    assertClose(await x.grad!.toArray(), expected, { atol: 1e-6, rtol: 1e-5 });
  });

  it('visits each node once on a 50-deep residual chain (linear time)', async () => {
    const counter = { calls: 0 };
    const half = counted(counter);
    const x = tensor([1, 2]).requiresGrad_();
    const out = tidy(() => {
      let h: Tensor = x;
      // Each level uses h twice: a per-path walk would take 2^50 vjp calls.
      for (let i = 0; i < 50; i++) h = add(h, half(h));
      return sum(h);
    });
    const t0 = performance.now();
    out.backward();
    expect(counter.calls).toBe(50);
    expect(performance.now() - t0).toBeLessThan(20_000);
    const g = await x.grad!.toArray();
    assertClose(g, [1.5 ** 50, 1.5 ** 50], { rtol: 1e-4 });
  });

  it('accumulates into .grad across backward calls and retainGraph allows a second pass', async () => {
    const x = tensor([2, 3]).requiresGrad_();
    const y = sum(mul(x, x));
    y.backward(undefined, { retainGraph: true });
    y.backward();
    assertClose(await x.grad!.toArray(), [8, 12]);
    expect(() => y.backward()).toThrow(/second time.*retainGraph/);
  });

  it('needs an output gradient for non-scalar outputs', () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    const y = mul(x, 2);
    expect(() => y.backward()).toThrow(/shape \[3\] needs a gradient/);
    const g = tensor([1, 0, 2]);
    y.backward(g);
  });

  it('refuses tensors that do not require grad', () => {
    const x = tensor([1, 2]);
    expect(() => sum(x).backward()).toThrow(/does not require grad/);
  });

  it('computes higher-order gradients with createGraph', async () => {
    const x = tensor([0.5, -2]).requiresGrad_();
    const y = sum(mul(mul(x, x), x));
    const [dx] = grad(y, [x], undefined, { createGraph: true });
    assertClose(await dx!.toArray(), [0.75, 12]);
    const [ddx] = grad(sum(dx!), [x]);
    assertClose(await ddx!.toArray(), [3, -12]);
  });
});

describe('grad()', () => {
  it('returns gradients without touching .grad, null for unused inputs', async () => {
    const a = tensor([1, 2]).requiresGrad_();
    const b = tensor([3, 4]).requiresGrad_();
    const c = tensor([5, 6]).requiresGrad_();
    const y = sum(mul(a, b));
    const [ga, gb, gc] = grad(y, [a, b, c]);
    assertClose(await ga!.toArray(), [3, 4]);
    assertClose(await gb!.toArray(), [1, 2]);
    expect(gc).toBeNull();
    expect(a.grad).toBeNull();
  });

  it('sums several outputs with their output gradients', async () => {
    const a = tensor([1, 2]).requiresGrad_();
    const y1 = mul(a, 3);
    const y2 = mul(a, a);
    const [ga] = grad([y1, y2], [a], [tensor([1, 1]), tensor([1, 2])]);
    assertClose(await ga!.toArray(), [3 + 2, 3 + 8]);
  });
});

describe('recording modes', () => {
  it('noGrad records nothing; detach cuts history', () => {
    const x = tensor([1]).requiresGrad_();
    const y = noGrad(() => mul(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
    const z = mul(x, 2).detach();
    expect(z.requiresGrad).toBe(false);
    expect(mul(x, 2).requiresGrad).toBe(true);
  });
});

describe('checkpoint', () => {
  const block = (w: Tensor) => (h: Tensor) => tanh(mul(add(h, mul(h, h)), w));

  it('gives the same gradients as the plain graph, including closure parameters', async () => {
    const w1 = tensor([0.7, -0.4, 0.2]).requiresGrad_();
    const w2 = tensor([0.7, -0.4, 0.2]).requiresGrad_();
    const x1 = tensor([0.1, 0.5, -0.3]).requiresGrad_();
    const x2 = tensor([0.1, 0.5, -0.3]).requiresGrad_();
    let h1: Tensor = x1;
    let h2: Tensor = x2;
    for (let i = 0; i < 4; i++) {
      h1 = block(w1)(h1);
      h2 = checkpoint(block(w2), h2);
    }
    sum(h1).backward();
    sum(h2).backward();
    assertClose(await x2.grad!.toArray(), await x1.grad!.toArray(), { atol: 1e-6 });
    assertClose(await w2.grad!.toArray(), await w1.grad!.toArray(), { atol: 1e-6 });
  });

  it('keeps no activations of the checkpointed function', () => {
    const x = fromArray(new Float32Array(4096).fill(0.1)).requiresGrad_();
    const fn = (h: Tensor) => {
      for (let i = 0; i < 10; i++) h = tanh(h);
      return h;
    };
    const before = ctx.pool.snapshot().liveBytes;
    const plain = fn(x);
    const plainBytes = ctx.pool.snapshot().liveBytes - before;
    const ck = checkpoint(fn, x);
    const ckBytes = ctx.pool.snapshot().liveBytes - before - plainBytes;
    expect(ckBytes).toBeLessThanOrEqual(2 * 16384);
    expect(plainBytes).toBeGreaterThanOrEqual(10 * 16384);
    plain.dispose();
    ck.dispose();
  });

  it('names a non-leaf tensor read from the closure', () => {
    const w = tensor([2]).requiresGrad_();
    const inner = mul(w, 3);
    const x = tensor([1]).requiresGrad_();
    const y = checkpoint((h) => mul(h, inner), x);
    expect(() => sum(y).backward()).toThrow(/checkpoint: fn reads .* pass it as one of checkpoint's inputs/);
  });
});

describe('memory', () => {
  it('returns the pool to its baseline after a disposed 100-iteration training loop', async () => {
    await ctx.sync();
    const baseline = ctx.pool.snapshot().liveBytes;
    const xs = fromArray(Float32Array.from({ length: 256 }, (_, i) => Math.sin(i)));
    const ys = tidy(() => mul(xs, 3));
    let w = tensor([0.5]).requiresGrad_();
    for (let it = 0; it < 100; it++) {
      const next = tidy(() => {
        const err = add(mul(xs, w), mul(ys, -1));
        const loss = sum(mul(err, err));
        backward(loss);
        return noGrad(() => add(w, mul(w.grad!, -1e-3))).requiresGrad_();
      });
      w.dispose();
      w = next;
    }
    const final = await w.item();
    expect(final).toBeGreaterThan(2.9);
    expect(final).toBeLessThan(3.1);
    w.dispose();
    xs.dispose();
    ys.dispose();
    await ctx.sync();
    expect(ctx.pool.snapshot().liveBytes).toBe(baseline);
  });

  it('frees a graph when its output is disposed', async () => {
    await ctx.sync();
    const baseline = ctx.pool.snapshot().liveBytes;
    const x = fromArray(new Float32Array(1000).fill(1)).requiresGrad_();
    const y = tidy(() => tanh(mul(x, 2))); // the graph holds mul's output
    x.dispose();
    y.dispose();
    expect(ctx.pool.snapshot().liveBytes).toBe(baseline);
  });
});

describe('lifetime errors', () => {
  it('using a disposed tensor is a clear error', () => {
    const x = tensor([1, 2]);
    x.dispose();
    expect(() => add(x, 1)).toThrow(/disposed/);
  });

  it('tidy keeps returned tensors and frees the rest', async () => {
    const before = ctx.pool.snapshot().liveBytes;
    const kept = tidy(() => {
      const a = tensor([1, 2, 3]);
      const b = mul(a, 2);
      return { out: add(b, 1) };
    });
    expect(ctx.pool.snapshot().liveBytes - before).toBe(256);
    assertClose(await kept.out.toArray(), [3, 5, 7]);
    kept.out.dispose();
  });
});

describe('second order through transcendental ops', () => {
  it('d²/dx² of tanh, sigmoid, reciprocal and rsqrt match the analytic forms', async () => {
    const xs = [0.3, 0.9, 1.7];
    const cases: Array<[string, (t: Tensor) => Tensor, (v: number) => number]> = [
      ['tanh', (t) => t.tanh(), (v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2)],
      ['sigmoid', (t) => t.sigmoid(), (v) => { const s = 1 / (1 + Math.exp(-v)); return s * (1 - s) * (1 - 2 * s); }],
      ['reciprocal', (t) => t.reciprocal(), (v) => 2 / v ** 3],
      ['rsqrt', (t) => t.rsqrt(), (v) => 0.75 * v ** -2.5],
    ];
    for (const [name, f, d2] of cases) {
      const x = tensor(xs).requiresGrad_();
      const [g1] = grad(sum(f(x)), [x], undefined, { createGraph: true });
      const [g2] = grad(sum(g1!), [x]);
      assertClose(await g2!.toArray(), xs.map(d2), { atol: 1e-5, rtol: 1e-4 }, name);
    }
  });
});
