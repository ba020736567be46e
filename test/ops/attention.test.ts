import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  attentionProbs, attentionWithProbs, backward, fromArray, grad, mul, noGrad,
  scaledDotProductAttention, sum, type AttentionOptions, type GpuContext, type HostArray, type Tensor,
} from '../../src/index.js';
import { attentionKernelConfig, setAttentionFamily, setAttentionRegsBlock, setAttentionRegsSlots } from '../../src/ops/attention.js';
import { SafetensorsFile, toFloat32 } from '../../src/io/index.js';
import * as ref from '../../src/reference/index.ts';
import { assertClose, checkOp, randomArray, setupGpu } from '../helpers/gpu.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

const nd = (a: HostArray): ref.NDArray => ({ shape: [...a.shape], data: a.data });
const f32 = (a: HostArray): ref.NDArray => ({ shape: [...a.shape], data: Float64Array.from(Float32Array.from(a.data)) });
const up = (a: HostArray, requiresGrad = false) => fromArray(Float32Array.from(a.data), a.shape, { ctx, requiresGrad });
const IMPLS = ['fused', 'unfused'] as const;

interface Case {
  name: string;
  q: number[]; k: number[]; v: number[];
  causal?: boolean;
  scale?: number;
  mask?: { shape: number[]; kind: 'bool' | 'additive' };
}

/** A 0/1 keep-mask (every query keeps at least its first key) or an additive one in [-2, 1]. */
function maskArray(shape: number[], kind: 'bool' | 'additive', seed: number): HostArray {
  const a = randomArray(shape, seed, kind === 'bool' ? 0 : -2, 1);
  if (kind === 'bool') {
    const lk = shape[shape.length - 1];
    a.data.forEach((x, i) => (a.data[i] = i % lk === 0 || x > 0.35 ? 1 : 0));
  }
  return a;
}

const cases: Case[] = [
  { name: 'self [2, 3, 6, 8]', q: [2, 3, 6, 8], k: [2, 3, 6, 8], v: [2, 3, 6, 8] },
  { name: 'cross Lq 7, Lk 13, D 5', q: [2, 7, 5], k: [2, 13, 5], v: [2, 13, 5] },
  { name: 'cross Lq 7, Lk 13, D 8, Dv 3', q: [1, 2, 7, 8], k: [1, 2, 13, 8], v: [1, 2, 13, 3] },
  { name: 'cross D 40 (SD head size)', q: [1, 2, 7, 40], k: [1, 2, 13, 40], v: [1, 2, 13, 40] },
  { name: 'unbatched [5, 4] x [9, 4]', q: [5, 4], k: [9, 4], v: [9, 4] },
  { name: 'three batch dims, k/v broadcast over heads', q: [2, 2, 2, 5, 4], k: [2, 1, 2, 6, 4], v: [2, 1, 2, 6, 4] },
  { name: 'causal self', q: [1, 2, 11, 8], k: [1, 2, 11, 8], v: [1, 2, 11, 8], causal: true },
  { name: 'causal Lq 7 < Lk 13', q: [2, 7, 5], k: [2, 13, 5], v: [2, 13, 5], causal: true },
  { name: 'causal Lq 13 > Lk 7', q: [2, 13, 5], k: [2, 7, 5], v: [2, 7, 5], causal: true },
  { name: 'bool key-padding mask [B, 1, 1, Lk]', q: [2, 3, 7, 8], k: [2, 3, 13, 8], v: [2, 3, 13, 8], mask: { shape: [2, 1, 1, 13], kind: 'bool' } },
  { name: 'bool mask [B, 1, Lq, Lk] + causal', q: [2, 3, 9, 8], k: [2, 3, 9, 8], v: [2, 3, 9, 8], causal: true, mask: { shape: [2, 1, 9, 9], kind: 'bool' } },
  { name: 'additive mask [Lq, Lk] over batch and heads', q: [2, 2, 7, 5], k: [2, 2, 13, 5], v: [2, 2, 13, 5], mask: { shape: [7, 13], kind: 'additive' } },
  { name: 'additive mask [B, H, Lq, Lk], scale 0.3', q: [2, 2, 7, 8], k: [2, 2, 13, 8], v: [2, 2, 13, 8], scale: 0.3, mask: { shape: [2, 2, 7, 13], kind: 'additive' } },
];

function inputsOf(c: Case, seed = 1): HostArray[] {
  return [randomArray(c.q, seed, -1.5, 1.5), randomArray(c.k, seed + 1, -1.5, 1.5), randomArray(c.v, seed + 2)];
}

function optsOf(c: Case, mask: Tensor | undefined): AttentionOptions {
  return { causal: c.causal, scale: c.scale, mask, maskKind: c.mask?.kind };
}

function refOpts(c: Case, mask: HostArray | undefined): ref.AttentionOptions {
  return { causal: c.causal, scale: c.scale, mask: mask && f32(mask), maskKind: c.mask?.kind };
}

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
    await checkOp('attentionProbs', (q, k) => attentionProbs(q, k, optsOf(c, mt)), (q, k) => ref.attentionProbs(nd(q), nd(k), refOpts(c, m)), inputsOf(c).slice(0, 2), { atol: 1e-6, rtol: 1e-5 });
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

  it('causal with a bool mask, D 64, Lq 100 / Lk 70, Dv 24: fused and unfused agree', async () => {
    const [qa, ka, va] = [randomArray([2, 100, 64], 21, -1, 1), randomArray([2, 70, 64], 22, -1, 1), randomArray([2, 70, 24], 23)];
    const m = maskArray([2, 1, 70], 'bool', 24);
    const g = up(randomArray([2, 100, 24], 25));
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
      await checkOp(`D ${d}`, (q, k, v) => scaledDotProductAttention(q, k, v, { impl: 'fused' }), (q, k, v) => ref.scaledDotProductAttention(nd(q), nd(k), nd(v)), inputsOf(c, 5), { atol: 2e-6, rtol: 1e-5, grad: false });
    }
    expect(attentionKernelConfig("fwd", 160, 160)!.BQ).toBeLessThan(32);
    expect(attentionKernelConfig("dkv", 160, 160)!.BK).toBeLessThan(32);
  });

  it('gradcheck D 80, causal', async () => {
    const c: Case = { name: 'D 80', q: [1, 3, 80], k: [1, 4, 80], v: [1, 4, 80] };
    await checkOp('D 80', (q, k, v) => scaledDotProductAttention(q, k, v, { impl: 'fused', causal: true }), (q, k, v) => ref.scaledDotProductAttention(nd(q), nd(k), nd(v), { causal: true }), inputsOf(c, 6), { atol: 2e-6, rtol: 1e-5, gradAtol: 1e-4, gradRtol: 1e-3 });
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

// GPUs run the 'wide' kernels (16×16 threads, vector micro-tiles), CPU adapters the 'narrow' ones: force
// each here so that both are tested on any adapter.
const OTHER_FAMILIES = ['narrow', 'wide', 'regs'] as const;
for (const family of OTHER_FAMILIES) describe(`the ${family} kernel family, forced`, () => {
  const other = () => family;

  it('gradcheck: cross attention with a bool mask and causal, D 8', async () => {
    const c = cases[10];
    const m = maskArray(c.mask!.shape, 'bool', 81);
    const mt = up(m);
    setAttentionFamily(other());
    try {
      await checkOp(`${other()} ${c.name}`, (q, k, v) => scaledDotProductAttention(q, k, v, { ...optsOf(c, mt), impl: 'fused' }), (q, k, v) => ref.scaledDotProductAttention(nd(q), nd(k), nd(v), refOpts(c, m)), inputsOf(c, 82), { atol: 2e-6, rtol: 1e-5, gradAtol: 1e-4, gradRtol: 1e-3 });
    } finally {
      setAttentionFamily(null);
      mt.dispose();
    }
  });

  it('D 40, Lq 100 / Lk 70, additive mask: outputs and gradients match the unfused path', async () => {
    const [qa, ka, va] = [randomArray([2, 100, 40], 83, -1.5, 1.5), randomArray([2, 70, 40], 84, -1.5, 1.5), randomArray([2, 70, 40], 85)];
    const mt = up(maskArray([2, 1, 70], 'additive', 86));
    const g = up(randomArray([2, 100, 40], 87));
    const results: Array<Float32Array[]> = [];
    for (const impl of IMPLS) {
      setAttentionFamily(other());
      try {
        const [q, k, v] = [up(qa, true), up(ka, true), up(va, true)];
        const y = scaledDotProductAttention(q, k, v, { impl, mask: mt });
        backward(y, g);
        results.push([await y.toArray(), await q.grad!.toArray(), await k.grad!.toArray(), await v.grad!.toArray()] as Float32Array[]);
        for (const t of [q, k, v, y]) t.dispose();
      } finally {
        setAttentionFamily(null);
      }
    }
    ['out', 'dq', 'dk', 'dv'].forEach((name, i) => assertClose(results[0][i], results[1][i], { atol: 2e-5, rtol: 1e-4 }, name));
    mt.dispose();
    g.dispose();
  });
});

describe('the regs family (CPU adapters): other register blocks', () => {
  // 8 keys per lane (tiles of 64 keys: Lk 70 leaves a ragged tile), 1 and 3 rows per lane (Lq 75 leaves a
  // ragged row block); plain and causal with Lq > Lk. (Masks compile slowly on llvmpipe: the default block
  // covers them in the forced-family tests above.)
  const blocks = [{ rowsPerLane: 1, keysPerLane: 8 }, { rowsPerLane: 3, keysPerLane: 4 }] as const;
  for (const block of blocks) {
    it(`${block.rowsPerLane} row(s) × ${block.keysPerLane} keys per lane: outputs and gradients match the unfused path`, async () => {
      const [qa, ka, va] = [randomArray([2, 75, 12], 91, -1.5, 1.5), randomArray([2, 70, 12], 92, -1.5, 1.5), randomArray([2, 70, 8], 93)];
      const g = up(randomArray([2, 75, 8], 94));
      for (const o of [{}, { causal: true }] as AttentionOptions[]) {
        const results: Array<Float32Array[]> = [];
        for (const impl of IMPLS) {
          setAttentionFamily('regs');
          setAttentionRegsBlock(block);
          try {
            const [q, k, v] = [up(qa, true), up(ka, true), up(va, true)];
            const y = scaledDotProductAttention(q, k, v, { ...o, impl });
            backward(y, g);
            results.push([await y.toArray(), await q.grad!.toArray(), await k.grad!.toArray(), await v.grad!.toArray()] as Float32Array[]);
            for (const t of [q, k, v, y]) t.dispose();
          } finally {
            setAttentionFamily(null);
            setAttentionRegsBlock(null);
          }
        }
        ['out', 'dq', 'dk', 'dv'].forEach((name, i) => assertClose(results[0][i], results[1][i], { atol: 2e-5, rtol: 1e-4 }, `${o.causal ? 'causal' : 'plain'} ${name}`));
      }
      g.dispose();
    });
  }
});

describe('the regs backward: one pass with per-slot dQ sums, or the dQ and dK/dV kernels', () => {
  /** Gradients of q, k, v (those in `wrt`) and the kernels that ran, forcing the regs family and `slots`. */
  async function grads(impl: 'fused' | 'unfused', slots: number | null, a: HostArray[], g: HostArray, o: AttentionOptions, wrt = [true, true, true]) {
    const kernels: string[] = [];
    const dispatch = ctx.dispatch.bind(ctx);
    setAttentionFamily('regs');
    setAttentionRegsSlots(slots);
    ctx.dispatch = (p, bufs, wg, name) => {
      if (name) kernels.push(name);
      dispatch(p, bufs, wg, name);
    };
    try {
      const [q, k, v] = a.map((x, i) => up(x, wrt[i]));
      const y = scaledDotProductAttention(q, k, v, { ...o, impl });
      backward(y, up(g));
      const out = await Promise.all([q, k, v].map((t) => t.grad?.toArray() ?? null));
      for (const t of [q, k, v, y]) t.dispose();
      return { out, kernels };
    } finally {
      ctx.dispatch = dispatch;
      setAttentionFamily(null);
      setAttentionRegsSlots(null);
    }
  }

  // D 40: a shared rest of 2 column chunks (4 lanes each); D 80: a rest of 4 chunks, 2 lanes each, 2 queries per
  // lane; D 12: 3 chunks (5 idle lanes). Lq 75 / Lk 70: ragged query tiles and key blocks.
  const shapes = [
    { d: 40, dv: 40, o: {} },
    { d: 80, dv: 80, o: { causal: true } },
    { d: 12, dv: 8, o: { causal: true } },
  ];
  for (const { d, dv, o } of shapes) {
    it(`D ${d}, Dv ${dv}${o.causal ? ', causal' : ''}: 1, 3 and automatic slots and the split kernels match the unfused path`, async () => {
      const a = [randomArray([2, 75, d], 101, -1.5, 1.5), randomArray([2, 70, d], 102, -1.5, 1.5), randomArray([2, 70, dv], 103)];
      const g = randomArray([2, 75, dv], 104);
      const want = (await grads('unfused', null, a, g, o)).out;
      for (const slots of [1, 3, null, 0]) {
        const { out, kernels } = await grads('fused', slots, a, g, o);
        ['dq', 'dk', 'dv'].forEach((name, i) => assertClose(out[i]!, want[i]!, { atol: 2e-5, rtol: 1e-4 }, `slots ${slots} ${name}`));
        if (slots === 0) expect(kernels).toEqual(expect.arrayContaining(['attention_bwd_dq_regs', 'attention_bwd_dkv_regs']));
        else expect(kernels).toEqual(expect.arrayContaining(['attention_bwd_regs', 'attention_bwd_dq_sum']));
        expect(kernels.includes('attention_bwd_regs')).toBe(slots !== 0);
      }
    });
  }

  it('a bool mask with Lq 13 > Lk 7, causal; gradients of q alone and of k, v alone take the split kernels', async () => {
    const a = [randomArray([2, 3, 13, 8], 111, -1.5, 1.5), randomArray([2, 3, 7, 8], 112, -1.5, 1.5), randomArray([2, 3, 7, 8], 113)];
    const g = randomArray([2, 3, 13, 8], 114);
    const mt = up(maskArray([2, 1, 13, 7], 'bool', 115));
    const o: AttentionOptions = { causal: true, mask: mt, maskKind: 'bool' };
    try {
      const want = (await grads('unfused', null, a, g, o)).out;
      for (const wrt of [[true, true, true], [true, false, false], [false, true, true]]) {
        const { out, kernels } = await grads('fused', 2, a, g, o, wrt);
        ['dq', 'dk', 'dv'].forEach((name, i) => {
          if (wrt[i]) assertClose(out[i]!, want[i]!, { atol: 2e-5, rtol: 1e-4 }, `${wrt} ${name}`);
          else expect(out[i]).toBeNull();
        });
        expect(kernels.includes('attention_bwd_regs')).toBe(wrt[0] && wrt[1]);
      }
    } finally {
      mt.dispose();
    }
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
