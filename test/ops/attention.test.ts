import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  attentionProbs, attentionWithProbs, backward, fromArray, grad, mul, noGrad, scaledDotProductAttention, sum,
  type AttentionOptions, type GpuContext, type Tensor,
} from '../../src/index.js';
import { attentionKernelConfig } from '../../src/ops/kernels/attention.js';
import { SafetensorsFile, toFloat32 } from '../../src/io/index.js';
import * as ref from '../../src/reference/index.ts';
import { assertClose, checkOp, precompileForFile, randomArray, setupGpu } from '../helpers/gpu.js';
import { cases, f32, IMPLS, inputsOf, maskArray, nd, optsOf, refOpts, traceAttention, up, type Case } from './attention-cases.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});
// The fused kernels of this file's tests, compiled before them (see precompileForFile).
precompileForFile(() => {
  for (const c of cases) traceAttention(c.q, c.k, c.v, { causal: c.causal, scale: c.scale, maskShape: c.mask?.shape, maskKind: c.mask?.kind });
  traceAttention([1, 2, 300, 40], [1, 2, 300, 40], [1, 2, 300, 40]);
  traceAttention([2, 100, 8], [2, 70, 8], [2, 70, 8], { causal: true, maskShape: [2, 1, 70], maskKind: 'bool' });
  for (const d of [80, 160]) traceAttention([1, 5, d], [1, 9, d], [1, 9, d], {}, {}, false, true);
});
describe('scaledDotProductAttention vs the f64 reference: forward and gradcheck (q, k, v)', () => {
  for (const c of cases) {
    for (const impl of IMPLS) {
      it(`${impl}: ${c.name}`, async () => {
        const m = c.mask && maskArray(c.mask.shape, c.mask.kind, 7);
        const mt = m && up(m);
        try {
          await checkOp(
            `${impl} ${c.name}`,
            (q, k, v) => scaledDotProductAttention(q, k, v, { ...optsOf(c, mt), impl }),
            (q, k, v) => ref.scaledDotProductAttention(nd(q), nd(k), nd(v), refOpts(c, m)),
            inputsOf(c),
            { atol: 2e-6, rtol: 1e-5, gradAtol: 1e-4, gradRtol: 1e-3 },
          );
        } finally {
          mt?.dispose();
        }
      });
    }
  }

  it('attentionProbs and attentionWithProbs vs the reference (gradcheck through both)', async () => {
    const c = cases[10];
    const m = maskArray(c.mask!.shape, 'bool', 3);
    const mt = up(m);
    await checkOp(
      'attentionProbs',
      (q, k) => attentionProbs(q, k, optsOf(c, mt)),
      (q, k) => ref.attentionProbs(nd(q), nd(k), refOpts(c, m)),
      inputsOf(c).slice(0, 2),
      { atol: 1e-6, rtol: 1e-5 },
    );
    const p = randomArray([2, 3, 9, 9], 4, 0, 1);
    await checkOp('attentionWithProbs', attentionWithProbs, (a, b) => ref.matmul(nd(a), nd(b)), [p, inputsOf(c)[2]], { atol: 1e-6, rtol: 1e-5 });
    mt.dispose();
  });
});

describe('fused vs unfused', () => {
  it('Lq = Lk = 300, D 40 (2 heads): outputs and q, k, v gradients agree', async () => {
    const shape = [1, 2, 300, 40];
    const [qa, ka, va] = [randomArray(shape, 11, -2, 2), randomArray(shape, 12, -2, 2), randomArray(shape, 13)];
    const g = up(randomArray(shape, 14));
    const results: Array<Float32Array[]> = [];
    for (const impl of IMPLS) {
      const [q, k, v] = [up(qa, true), up(ka, true), up(va, true)];
      const y = scaledDotProductAttention(q, k, v, { impl });
      backward(y, g);
      results.push([await y.toArray(), await q.grad!.toArray(), await k.grad!.toArray(), await v.grad!.toArray()] as Float32Array[]);
      for (const t of [q, k, v, y]) t.dispose();
    }
    ['out', 'dq', 'dk', 'dv'].forEach((name, i) => assertClose(results[0][i], results[1][i], { atol: 2e-5, rtol: 1e-4 }, name));
    g.dispose();
  });

  // D 8: the masked kernels of the cases above (each new masked head size costs ~20 s of compiling on llvmpipe).
  it('causal with a bool mask, Lq 100 / Lk 70 (several tiles): fused and unfused agree', async () => {
    const [qa, ka, va] = [randomArray([2, 100, 8], 21, -1, 1), randomArray([2, 70, 8], 22, -1, 1), randomArray([2, 70, 8], 23)];
    const m = maskArray([2, 1, 70], 'bool', 24);
    const g = up(randomArray([2, 100, 8], 25));
    const mt = up(m);
    const results: Array<Float32Array[]> = [];
    for (const impl of IMPLS) {
      const [q, k, v] = [up(qa, true), up(ka, true), up(va, true)];
      const y = scaledDotProductAttention(q, k, v, { impl, causal: true, mask: mt, maskKind: 'bool' });
      backward(y, g);
      results.push([await y.toArray(), await q.grad!.toArray(), await k.grad!.toArray(), await v.grad!.toArray()] as Float32Array[]);
      for (const t of [q, k, v, y]) t.dispose();
    }
    ['out', 'dq', 'dk', 'dv'].forEach((name, i) => assertClose(results[0][i], results[1][i], { atol: 2e-5, rtol: 1e-4 }, name));
    mt.dispose();
    g.dispose();
  });

  it('head sizes 80 and 160 (smaller tiles) match the reference', async () => {
    for (const d of [80, 160]) {
      const c: Case = { name: `D ${d}`, q: [1, 5, d], k: [1, 9, d], v: [1, 9, d] };
      await checkOp(
        `D ${d}`,
        (q, k, v) => scaledDotProductAttention(q, k, v, { impl: 'fused' }),
        (q, k, v) => ref.scaledDotProductAttention(nd(q), nd(k), nd(v)),
        inputsOf(c, 5),
        { atol: 2e-6, rtol: 1e-5, grad: false },
      );
    }
    expect(attentionKernelConfig('fwd', 160, 160)!.BQ).toBeLessThan(32);
    expect(attentionKernelConfig('dkv', 160, 160)!.BK).toBeLessThan(32);
  });

  it('higher order: the createGraph vjp equals the fused backward kernels', async () => {
    const [qa, ka, va] = [randomArray([2, 6, 8], 31), randomArray([2, 9, 8], 32), randomArray([2, 9, 8], 33)];
    const [q, k, v] = [up(qa, true), up(ka, true), up(va, true)];
    const g = up(randomArray([2, 6, 8], 34));
    const y = scaledDotProductAttention(q, k, v, { impl: 'fused' });
    const plain = grad(y, [q, k, v], [g], { retainGraph: true });
    const second = grad(y, [q, k, v], [g], { createGraph: true });
    for (let i = 0; i < 3; i++) assertClose(await second[i]!.toArray(), await plain[i]!.toArray(), { atol: 1e-6, rtol: 1e-5 }, `grad ${i}`);
    // d/dq of sum(dL/dv): exists and is finite (the composed vjp is differentiable).
    const [hq] = grad(sum(second[2]!), [q]);
    expect((await hq!.toArray()).every(Number.isFinite)).toBe(true);
  });
});

describe('probabilities hook (prompt-to-prompt)', () => {
  const shape = [2, 2, 5, 4];
  const kshape = [2, 2, 7, 4];

  it('a hook that returns nothing sees [..., Lq, Lk] probabilities and keeps the output', async () => {
    const [q, k, v] = [up(randomArray(shape, 41)), up(randomArray(kshape, 42)), up(randomArray(kshape, 43))];
    let seen: number[] = [];
    let rowSum = 0;
    const y = scaledDotProductAttention(q, k, v, {
      probsHook: (p) => {
        seen = [...p.shape];
        noGrad(() => sum(p).item()).then((s) => (rowSum = s));
      },
    });
    const plain = scaledDotProductAttention(q, k, v);
    assertClose(await y.toArray(), await plain.toArray(), { atol: 1e-6 });
    expect(seen).toEqual([2, 2, 5, 7]);
    await ctx.sync();
    expect(rowSum).toBeCloseTo(2 * 2 * 5, 4);
  });

  it('a replacement changes the output to replacement · v', async () => {
    const [q, k, v] = [up(randomArray(shape, 44)), up(randomArray(kshape, 45)), up(randomArray(kshape, 46))];
    const uniform = fromArray(new Float32Array(2 * 2 * 5 * 7).fill(1 / 7), [2, 2, 5, 7], { ctx });
    const y = scaledDotProductAttention(q, k, v, { probsHook: () => uniform });
    const vs = await v.toArray();
    const expected = new Float64Array(2 * 2 * 5 * 4);
    for (let b = 0; b < 4; b++) for (let i = 0; i < 5; i++) for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let j = 0; j < 7; j++) s += vs[(b * 7 + j) * 4 + c] / 7;
      expected[(b * 5 + i) * 4 + c] = s;
    }
    assertClose(await y.toArray(), expected, { atol: 1e-6 });
  });

  it('gradients flow through a replacement built from the probabilities (gradcheck q, k, v)', async () => {
    const w = randomArray([5, 7], 47, 0, 2);
    const wt = up(w);
    await checkOp(
      'probsHook p·W',
      (q, k, v) => scaledDotProductAttention(q, k, v, { probsHook: (p) => mul(p, wt) }),
      (q, k, v) => ref.matmul(ref.mul(ref.attentionProbs(nd(q), nd(k)), f32(w)), nd(v)),
      [randomArray(shape, 48), randomArray(kshape, 49), randomArray(kshape, 50)],
      { atol: 1e-6, rtol: 1e-5, gradAtol: 1e-4, gradRtol: 1e-3 },
    );
    wt.dispose();
  });

  it('an injected map that requires grad receives g · vᵀ', async () => {
    const [q, k, v] = [up(randomArray(shape, 51)), up(randomArray(kshape, 52)), up(randomArray(kshape, 53))];
    const injected = up(randomArray([2, 2, 5, 7], 54, 0, 0.3), true);
    const g = randomArray(shape, 55);
    const y = scaledDotProductAttention(q, k, v, { probsHook: () => injected });
    backward(y, up(g));
    const vs = await v.toArray();
    const expected = new Float64Array(2 * 2 * 5 * 7);
    for (let b = 0; b < 4; b++) for (let i = 0; i < 5; i++) for (let j = 0; j < 7; j++) {
      let s = 0;
      for (let c = 0; c < 4; c++) s += g.data[(b * 5 + i) * 4 + c] * vs[(b * 7 + j) * 4 + c];
      expected[(b * 5 + i) * 7 + j] = s;
    }
    assertClose(await injected.grad!.toArray(), expected, { atol: 1e-5, rtol: 1e-5 });
  });
});

describe('edge cases and errors', () => {
  it('a fully masked query row gives NaN in both paths (as PyTorch / the reference); other rows are unaffected', async () => {
    const [qa, ka, va] = [randomArray([1, 3, 4], 61), randomArray([1, 5, 4], 62), randomArray([1, 5, 4], 63)];
    const m = { shape: [3, 5], data: Float64Array.from([1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]) };
    const expected = ref.scaledDotProductAttention(f32(qa), f32(ka), f32(va), { mask: m, maskKind: 'bool' });
    for (const impl of IMPLS) {
      const y = scaledDotProductAttention(up(qa), up(ka), up(va), { mask: up(m), maskKind: 'bool', impl });
      const got = await y.toArray();
      expect(Array.from(got.slice(4, 8)).every(Number.isNaN), impl).toBe(true);
      assertClose(got, expected.data, { atol: 1e-6 }, impl);
    }
  });

  it('large logits (±60 after scaling) stay finite', async () => {
    const qa = randomArray([1, 9, 8], 64, -30, 30);
    const ka = randomArray([1, 40, 8], 65, -30, 30);
    const va = randomArray([1, 40, 8], 66);
    const y = scaledDotProductAttention(up(qa), up(ka), up(va), { scale: 1 });
    const got = await y.toArray();
    expect(got.every(Number.isFinite)).toBe(true);
    assertClose(got, ref.scaledDotProductAttention(f32(qa), f32(ka), f32(va), { scale: 1 }).data, { atol: 1e-5, rtol: 1e-4 });
  });

  it('errors name the op and the shapes', () => {
    const q = up(randomArray([2, 5, 8], 1));
    const k = up(randomArray([2, 6, 4], 2));
    const v = up(randomArray([2, 7, 8], 3));
    expect(() => scaledDotProductAttention(q, k, v)).toThrow(/attention: query \[2, 5, 8\] and key \[2, 6, 4\]/);
    const k8 = up(randomArray([2, 6, 8], 4));
    expect(() => scaledDotProductAttention(q, k8, v)).toThrow(/key \[2, 6, 8\] and value \[2, 7, 8\] have different lengths/);
    const v6 = up(randomArray([2, 6, 8], 5));
    expect(() => scaledDotProductAttention(q, k8, v6, { mask: up(randomArray([3, 5, 6], 6)) })).toThrow(/mask \[3, 5, 6\]/);
    expect(() => scaledDotProductAttention(q, k8, v6, { probsHook: () => {}, impl: 'fused' })).toThrow(/impl 'fused' is not possible: a probsHook/);
  });

  it('peak memory of the fused forward + backward does not hold an Lq×Lk buffer', async () => {
    const L = 512;
    const shape = [1, 1, L, 8];
    const [q, k, v] = [up(randomArray(shape, 71), true), up(randomArray(shape, 72), true), up(randomArray(shape, 73), true)];
    const g = up(randomArray(shape, 74));
    const peak = async (impl: 'fused' | 'unfused') => {
      await ctx.sync();
      ctx.pool.resetPeak();
      const before = ctx.pool.snapshot().liveBytes;
      const y = scaledDotProductAttention(q, k, v, { impl });
      backward(y, g);
      y.dispose();
      for (const t of [q, k, v]) {
        t.grad?.dispose();
        t.grad = null;
      }
      await ctx.sync();
      return ctx.pool.snapshot().peakLiveBytes - before;
    };
    const fused = await peak('fused');
    const unfused = await peak('unfused');
    expect(fused).toBeLessThan(L * L * 4);
    expect(unfused).toBeGreaterThan(L * L * 4);
  });
});

// ---------------------------------------------------------------------------------------------
// PyTorch fixtures: test/fixtures/ops/attention.{json,safetensors}. Missing files fail the test.

describe('PyTorch fixtures (test/fixtures/ops/attention)', () => {
  const dir = new URL('../fixtures/ops/', import.meta.url).pathname;
  let meta: { cases: Record<string, { call: string; atol: number; rtol: number }> };
  let file: SafetensorsFile;
  const get = async (name: string) => {
    const t = await file.read(name);
    return { shape: t.shape, data: toFloat32(t) };
  };

  beforeAll(async () => {
    meta = JSON.parse(readFileSync(`${dir}attention.json`, 'utf8'));
    const bytes = new Uint8Array(readFileSync(`${dir}attention.safetensors`));
    // Each read is a fresh copy: tensors after the BOOL mask are not 4-byte aligned in the file.
    file = await SafetensorsFile.open({ name: 'attention.safetensors', size: bytes.byteLength, read: async (o, n) => bytes.slice(o, o + n) });
  });

  it('has the expected cases', () => {
    expect(Object.keys(meta.cases).sort()).toEqual(['causal', 'cross_mh', 'masked', 'self_mh']);
  });

  for (const name of ['self_mh', 'cross_mh', 'masked', 'causal']) {
    for (const impl of IMPLS) {
      it(`${name} (${impl}): out and grad_q, grad_k, grad_v of sum(out·R)`, async () => {
        const { atol, rtol } = meta.cases[name];
        const [qa, ka, va, R] = await Promise.all(['q', 'k', 'v', 'R'].map((n) => get(`${name}.${n}`)));
        const [q, k, v] = [qa, ka, va].map((a) => fromArray(a.data, a.shape, { ctx, requiresGrad: true }));
        const opts: AttentionOptions = { impl, causal: name === 'causal' };
        let mask: Tensor | undefined;
        if (name === 'masked') {
          // key-padding mask (B, Lk), True = keep: broadcast over heads and queries.
          const m = await get('masked.mask');
          mask = fromArray(m.data, [m.shape[0], 1, 1, m.shape[1]], { ctx });
          Object.assign(opts, { mask, maskKind: 'bool' });
        }
        const y = scaledDotProductAttention(q, k, v, opts);
        const out = await get(`${name}.out`);
        expect([...y.shape]).toEqual(out.shape);
        assertClose(await y.toArray(), out.data, { atol, rtol }, `${name} out`);
        backward(y, fromArray(R.data, R.shape, { ctx }));
        for (const [t, n] of [[q, 'q'], [k, 'k'], [v, 'v']] as const) {
          const want = await get(`${name}.grad_${n}`);
          assertClose(await t.grad!.toArray(), want.data, { atol, rtol }, `${name} grad_${n}`);
        }
        for (const t of [q, k, v, y, mask]) t?.dispose();
      });
    }
  }
});
