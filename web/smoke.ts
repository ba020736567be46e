// Browser smoke test: a few engine checks against plain-JS expected values.
// test/browser/run.mjs opens this page in headless Chromium and reads window.__cflensResults.
// Shapes stay tiny: CI's adapter is SwiftShader (a CPU).
import {
  add, conv2d, exp, fromArray, initGpu, mean, mul, permute, randn, scaledDotProductAttention, slice, softmax, sum, tidy,
  type GpuContext, type Tensor,
} from '../src/index.js';

interface Detail { name: string; ok: boolean; ms: number; message?: string }
interface Results { passed: number; failed: number; details: Detail[]; adapter: unknown; error?: string }

declare global {
  interface Window { __cflensResults?: Results }
}

const details: Detail[] = [];
const list = document.getElementById('results')!;

function show(d: Detail): void {
  const li = document.createElement('li');
  li.className = d.ok ? 'pass' : 'fail';
  li.textContent = `${d.name} (${d.ms.toFixed(0)} ms)${d.message ? `: ${d.message}` : ''}`;
  list.appendChild(li);
}

async function check(name: string, fn: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  let d: Detail;
  try {
    await fn();
    d = { name, ok: true, ms: performance.now() - t0 };
  } catch (e) {
    d = { name, ok: false, ms: performance.now() - t0, message: e instanceof Error ? e.message : String(e) };
  }
  details.push(d);
  show(d);
}

function assert(cond: boolean, msg: string): void {
  if (!cond) throw new Error(msg);
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string, atol = 1e-5, rtol = 1e-4): void {
  assert(actual.length === expected.length, `${label}: ${actual.length} values, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new Error(`${label}: element ${i}: got ${a}, expected ${e}`);
    }
  }
}

function assertShape(t: Tensor, shape: readonly number[], label: string): void {
  assert(t.shape.join() === shape.join(), `${label}: shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
}

/** Reads a tensor back, then disposes it. */
async function take(t: Tensor): Promise<Float32Array> {
  try {
    return (await t.toArray()) as Float32Array;
  } finally {
    t.dispose();
  }
}

const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

async function run(ctx: GpuContext): Promise<void> {
  const baseline = ctx.pool.snapshot().liveBytes;

  await check('add broadcasts [2, 3] + [3]', async () => {
    const a = range(6, (i) => i * 0.5 - 1);
    const b = [10, 20, 30];
    const y = tidy(() => add(fromArray(a, [2, 3]), fromArray(b, [3])));
    assertShape(y, [2, 3], 'add');
    assertClose(await take(y), range(6, (i) => a[i] + b[i % 3]), 'add');
  });

  await check('mul broadcasts [2, 1] * [1, 3] and scalars', async () => {
    const a = [2, -3];
    const b = [1, 0.5, -4];
    const y = tidy(() => mul(fromArray(a, [2, 1]), fromArray(b, [1, 3])).mul(2));
    assertShape(y, [2, 3], 'mul');
    assertClose(await take(y), range(6, (i) => 2 * a[Math.floor(i / 3)] * b[i % 3]), 'mul');
  });

  await check('exp', async () => {
    const x = [-3, -1, 0, 0.5, 1, 2.5];
    assertClose(await take(tidy(() => exp(fromArray(x)))), x.map(Math.exp), 'exp');
  });

  await check('sum and mean reductions', async () => {
    const x = range(24, (i) => Math.sin(i) * 2); // [2, 3, 4]
    const at = (i: number, j: number, k: number) => x[i * 12 + j * 4 + k];
    const [all, s1, m02, mk] = tidy(() => {
      const t = fromArray(x, [2, 3, 4]);
      return [sum(t), sum(t, 1), mean(t, [0, 2]), mean(t, -1, true)];
    });
    assertShape(all, [], 'sum()');
    assertShape(s1, [2, 4], 'sum(1)');
    assertShape(m02, [3], 'mean([0, 2])');
    assertShape(mk, [2, 3, 1], 'mean(-1, keepdim)');
    assertClose(await take(all), [x.reduce((p, v) => p + v, 0)], 'sum()', 1e-4);
    assertClose(await take(s1), range(8, (o) => range(3, (j) => at(Math.floor(o / 4), j, o % 4)).reduce((p, v) => p + v)), 'sum(1)');
    assertClose(await take(m02), range(3, (j) => {
      let s = 0;
      for (let i = 0; i < 2; i++) for (let k = 0; k < 4; k++) s += at(i, j, k);
      return s / 8;
    }), 'mean([0, 2])');
    assertClose(await take(mk), range(6, (o) => range(4, (k) => x[o * 4 + k]).reduce((p, v) => p + v) / 4), 'mean(-1, keepdim)');
  });

  await check('permute and step slice', async () => {
    const x = range(24, (i) => i); // [2, 3, 4]
    const [p, s] = tidy(() => {
      const t = fromArray(x, [2, 3, 4]);
      return [permute(t, [2, 0, 1]), slice(t, [[1, 2], null, [0, 4, 2]])];
    });
    assertShape(p, [4, 2, 3], 'permute');
    // p[k, i, j] = x[i, j, k]
    assertClose(await take(p), range(24, (o) => {
      const k = Math.floor(o / 6), i = Math.floor(o / 3) % 2, j = o % 3;
      return x[i * 12 + j * 4 + k];
    }), 'permute', 0, 0);
    assertShape(s, [1, 3, 2], 'slice');
    assertClose(await take(s), [12, 14, 16, 18, 20, 22], 'slice', 0, 0);
  });

  await check('softmax along the last axis', async () => {
    const x = [1, 2, 3, -1, 0.5, 100, 100, 99, -50, 0]; // [2, 5]; large values test stability
    const y = tidy(() => softmax(fromArray(x, [2, 5])));
    const expected: number[] = [];
    for (let r = 0; r < 2; r++) {
      const row = x.slice(r * 5, r * 5 + 5);
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const s = e.reduce((p, v) => p + v);
      expected.push(...e.map((v) => v / s));
    }
    assertClose(await take(y), expected, 'softmax', 1e-6);
  });

  await check('randn is deterministic per seed', async () => {
    const n = 512;
    const a = await take(randn([n], { seed: 1234 }));
    const b = await take(randn([n], { seed: 1234 }));
    const c = await take(randn([n], { seed: 1235 }));
    assertClose(a, b, 'same seed', 0, 0);
    assert(a.some((v, i) => v !== c[i]), 'different seeds gave the same values');
    assert(a.every(Number.isFinite), 'non-finite value');
    const m = a.reduce((p, v) => p + v, 0) / n;
    const sd = Math.sqrt(a.reduce((p, v) => p + (v - m) ** 2, 0) / (n - 1));
    assert(Math.abs(m) < 0.2 && Math.abs(sd - 1) < 0.2, `mean ${m.toFixed(3)}, std ${sd.toFixed(3)} far from N(0, 1)`);
  });

  await check('backward through a small graph', async () => {
    // loss = sum(exp(x) * w + x * x) + mean(w): dL/dx = exp(x)·w + 2x, dL/dw = exp(x) + 1/n
    const xv = [-0.5, 0.25, 1];
    const wv = [2, -1, 0.5];
    const x = fromArray(xv, [3], { requiresGrad: true });
    const w = fromArray(wv, [3], { requiresGrad: true });
    const loss = tidy(() => add(sum(add(mul(exp(x), w), mul(x, x))), mean(w)));
    const expectedLoss = xv.reduce((p, v, i) => p + Math.exp(v) * wv[i] + v * v, 0) + wv.reduce((p, v) => p + v) / 3;
    loss.backward();
    assertClose(await take(loss), [expectedLoss], 'loss');
    assert(x.grad !== null && w.grad !== null, 'missing .grad');
    assertClose(await x.grad!.toArray(), xv.map((v, i) => Math.exp(v) * wv[i] + 2 * v), 'dL/dx');
    assertClose(await w.grad!.toArray(), xv.map((v) => Math.exp(v) + 1 / 3), 'dL/dw');
    x.dispose();
    w.dispose();
  });

  // CPU adapters with fixed subgroups run the row convolution and the regs attention kernels here
  // (SwiftShader: 4 lanes, where lavapipe in the Node tests has 8); the names of the kernels that ran go
  // to the console (test/browser/run.mjs --verbose).
  const kernelsOf = async (fn: () => Promise<void>): Promise<string[]> => {
    const names = new Set<string>();
    const dispatch = ctx.dispatch.bind(ctx);
    ctx.dispatch = (p, b, w, name) => {
      if (name) names.add(name);
      dispatch(p, b, w, name);
    };
    try {
      await fn();
    } finally {
      ctx.dispatch = dispatch;
    }
    return [...names];
  };

  await check('conv2d 3x3 padding 1, forward and gradients vs plain JS', async () => {
    const [C, H, W, Co] = [2, 3, 8, 3];
    const xv = range(C * H * W, (i) => Math.sin(i * 0.7));
    const wv = range(Co * C * 9, (i) => Math.cos(i * 0.3) * 0.5);
    const bv = [0.1, -0.2, 0.3];
    const rv = range(Co * H * W, (i) => ((i * 7) % 5) - 2);
    const y = new Float64Array(Co * H * W);
    const gx = new Float64Array(xv.length);
    const gw = new Float64Array(wv.length);
    for (let o = 0; o < Co; o++) for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) {
      const at = (o * H + r) * W + c;
      y[at] = bv[o];
      for (let i = 0; i < C; i++) for (let kh = 0; kh < 3; kh++) for (let kw = 0; kw < 3; kw++) {
        const [yy, xx] = [r + kh - 1, c + kw - 1];
        if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
        const [xi, wi] = [(i * H + yy) * W + xx, ((o * C + i) * 3 + kh) * 3 + kw];
        y[at] += xv[xi] * wv[wi];
        gx[xi] += rv[at] * wv[wi];
        gw[wi] += rv[at] * xv[xi];
      }
    }
    const x = fromArray(xv, [1, C, H, W], { requiresGrad: true });
    const w = fromArray(wv, [Co, C, 3, 3], { requiresGrad: true });
    const b = fromArray(bv, [Co]);
    const r = fromArray(rv, [1, Co, H, W]);
    let out: Float32Array | null = null;
    const names = await kernelsOf(async () => {
      const yt = conv2d(x, w, b, { padding: 1 });
      const loss = tidy(() => sum(mul(yt, r)));
      loss.backward();
      loss.dispose();
      out = await take(yt);
      await ctx.sync();
    });
    console.log(`conv2d kernels: ${names.join(', ')}`);
    assertClose(out!, y, 'y', 1e-4);
    assertClose(await x.grad!.toArray(), gx, 'dL/dx', 1e-4);
    assertClose(await w.grad!.toArray(), gw, 'dL/dw', 1e-4);
    for (const t of [x, w, b, r]) t.dispose();
  });

  await check('fused attention matches the unfused path, forward and gradients', async () => {
    const results: Float32Array[][] = [];
    for (const impl of ['fused', 'unfused'] as const) {
      const q = randn([1, 2, 20, 8], { seed: 21, requiresGrad: true });
      const k = randn([1, 2, 12, 8], { seed: 22, requiresGrad: true });
      const v = randn([1, 2, 12, 8], { seed: 23, requiresGrad: true });
      const g = randn([1, 2, 20, 8], { seed: 24 });
      let y: Tensor | null = null;
      const names = await kernelsOf(async () => {
        y = scaledDotProductAttention(q, k, v, { impl, causal: true });
        y.backward(g);
        await ctx.sync();
      });
      if (impl === 'fused') console.log(`attention kernels: ${names.join(', ')}`);
      results.push([await take(y!), await q.grad!.toArray(), await k.grad!.toArray(), await v.grad!.toArray()] as Float32Array[]);
      for (const t of [q, k, v, g]) t.dispose();
    }
    ['out', 'dq', 'dk', 'dv'].forEach((name, i) => assertClose(results[0][i], results[1][i], name, 1e-5, 1e-4));
  });

  await check('tidy/dispose return the pool to its baseline', async () => {
    const before = ctx.pool.snapshot().liveBytes;
    const kept = tidy(() => {
      const a = randn([4, 4], { seed: 7 });
      const b = a.mul(a).add(1).exp();
      return b.sum();
    });
    assert(ctx.pool.snapshot().liveBytes > before, 'the kept result holds no buffer');
    await take(kept);
    const x = fromArray([1, 2, 3], [3], { requiresGrad: true });
    const l = tidy(() => x.mul(x).sum());
    l.backward();
    l.dispose();
    x.dispose(); // also releases x.grad
    await ctx.sync();
    const after = ctx.pool.snapshot().liveBytes;
    assert(after === before, `liveBytes ${after} after dispose, ${before} before`);
    assert(after === baseline, `liveBytes ${after} at the end, ${baseline} at the start of the page`);
  });
}

async function main(): Promise<void> {
  let adapter: unknown = null;
  let error: string | undefined;
  try {
    if (!('gpu' in navigator)) throw new Error('navigator.gpu is missing: this browser has no WebGPU');
    const ctx = await initGpu();
    const { limits: _limits, ...summary } = ctx.summary;
    adapter = summary;
    document.getElementById('adapter')!.textContent = JSON.stringify(summary, null, 2);
    await run(ctx);
  } catch (e) {
    error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
    console.error('cflens smoke: setup failed:', error);
  }
  const passed = details.filter((d) => d.ok).length;
  const failed = details.length - passed + (error ? 1 : 0);
  document.getElementById('summary')!.textContent = error
    ? `Setup failed: ${error}`
    : `${passed} passed, ${failed} failed`;
  window.__cflensResults = { passed, failed, details, adapter, ...(error ? { error } : {}) };
}

void main();
