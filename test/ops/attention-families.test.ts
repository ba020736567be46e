// The kernel families forced (each tested on any adapter) and the regs family's register blocks and
// one-pass backward: split from attention.test.ts so that the two files compile their kernels in parallel.
import { beforeAll, describe, expect, it } from 'vitest';
import { backward, scaledDotProductAttention, withFlags, type AttentionOptions, type GpuContext, type HostArray } from '../../src/index.js';
import * as ref from '../../src/reference/index.ts';
import { assertClose, checkOp, precompileForFile, randomArray, setupGpu } from '../helpers/gpu.js';
import { cases, IMPLS, inputsOf, maskArray, nd, optsOf, refOpts, traceAttention, up, type Case } from './attention-cases.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});
// The forced families' kernels of this file's tests, compiled before them (see precompileForFile).
precompileForFile(() => {
  const c = cases[10];
  for (const family of ['narrow', 'wide', 'regs'] as const) {
    const flags = { 'attention.family': family };
    traceAttention(c.q, c.k, c.v, { causal: c.causal, maskShape: c.mask!.shape, maskKind: 'bool' }, flags);
    traceAttention([2, 100, 16], [2, 70, 16], [2, 70, 16], { maskShape: [2, 1, 70] }, flags);
  }
  for (const block of [{ rowsPerLane: 1, keysPerLane: 8 }, { rowsPerLane: 3, keysPerLane: 4 }] as const) {
    traceAttention([2, 75, 12], [2, 70, 12], [2, 70, 8], {}, { 'attention.family': 'regs', 'attention.regsBlock': block });
  }
  for (const [d, dv] of [[80, 80], [12, 8]]) {
    const flags = { 'attention.family': 'regs' as const, 'attention.regsBlock': d > 64 ? { rowsPerLane: 1, keysPerLane: 4 as const } : null };
    traceAttention([2, 75, d], [2, 70, d], [2, 70, dv], { causal: d === 80 }, flags, true);
  }
  traceAttention([2, 3, 13, 8], [2, 3, 7, 8], [2, 3, 7, 8], { causal: true, maskShape: [2, 1, 13, 7], maskKind: 'bool' }, { 'attention.family': 'regs' }, true);
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
    try {
      await withFlags({ 'attention.family': other() }, () => checkOp(
        `${other()} ${c.name}`,
        (q, k, v) => scaledDotProductAttention(q, k, v, { ...optsOf(c, mt), impl: 'fused' }),
        (q, k, v) => ref.scaledDotProductAttention(nd(q), nd(k), nd(v), refOpts(c, m)),
        inputsOf(c, 82),
        { atol: 2e-6, rtol: 1e-5, gradAtol: 1e-4, gradRtol: 1e-3 },
      ));
    } finally {
      mt.dispose();
    }
  });

  it('D 16, Lq 100 / Lk 70, additive mask: outputs and gradients match the unfused path', async () => {
    const [qa, ka, va] = [randomArray([2, 100, 16], 83, -1.5, 1.5), randomArray([2, 70, 16], 84, -1.5, 1.5), randomArray([2, 70, 16], 85)];
    const mt = up(maskArray([2, 1, 70], 'additive', 86));
    const g = up(randomArray([2, 100, 16], 87));
    const results: Array<Float32Array[]> = [];
    for (const impl of IMPLS) {
      await withFlags({ 'attention.family': other() }, async () => {
        const [q, k, v] = [up(qa, true), up(ka, true), up(va, true)];
        const y = scaledDotProductAttention(q, k, v, { impl, mask: mt });
        backward(y, g);
        results.push([await y.toArray(), await q.grad!.toArray(), await k.grad!.toArray(), await v.grad!.toArray()] as Float32Array[]);
        for (const t of [q, k, v, y]) t.dispose();
      });
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
          await withFlags({ 'attention.family': 'regs', 'attention.regsBlock': block }, async () => {
            const [q, k, v] = [up(qa, true), up(ka, true), up(va, true)];
            const y = scaledDotProductAttention(q, k, v, { ...o, impl });
            backward(y, g);
            results.push([await y.toArray(), await q.grad!.toArray(), await k.grad!.toArray(), await v.grad!.toArray()] as Float32Array[]);
            for (const t of [q, k, v, y]) t.dispose();
          });
        }
        ['out', 'dq', 'dk', 'dv'].forEach(
          (name, i) => assertClose(results[0][i], results[1][i], { atol: 2e-5, rtol: 1e-4 }, `${o.causal ? 'causal' : 'plain'} ${name}`),
        );
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
    // Large heads: one row per lane (the slot and chunk logic under test does not depend on it; the default
    // block's kernels at head size 80 take ~30 s to compile on llvmpipe).
    const regsBlock = a[0].shape[a[0].shape.length - 1] > 64 ? { rowsPerLane: 1, keysPerLane: 4 as const } : null;
    ctx.dispatch = (p, bufs, wg, name) => {
      if (name) kernels.push(name);
      dispatch(p, bufs, wg, name);
    };
    try {
      return await withFlags({ 'attention.family': 'regs', 'attention.regsSlots': slots, 'attention.regsBlock': regsBlock }, async () => {
        const [q, k, v] = a.map((x, i) => up(x, wrt[i]));
        const y = scaledDotProductAttention(q, k, v, { ...o, impl });
        backward(y, up(g));
        const out = await Promise.all([q, k, v].map((t) => t.grad?.toArray() ?? null));
        for (const t of [q, k, v, y]) t.dispose();
        return { out, kernels };
      });
    } finally {
      ctx.dispatch = dispatch;
    }
  }

  // D 80: a rest of 4 column chunks, 2 lanes each, 2 queries per lane (the gradcheck of D 80 too: its kernels
  // compile here); D 12: 3 chunks (5 idle lanes). Lq 75 / Lk 70: ragged query tiles and key blocks. (D 40's
  // one-pass backward is gradchecked in attention.test.ts.)
  const shapes = [
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

  it('gradcheck D 80, causal, one row per lane (the kernels of the D 80 test above)', async () => {
    const c = { q: [1, 3, 80], k: [1, 4, 80], v: [1, 4, 80] } as Case;
    await withFlags({ 'attention.family': 'regs', 'attention.regsBlock': { rowsPerLane: 1, keysPerLane: 4 } }, () =>
      checkOp(
        'D 80',
        (q, k, v) => scaledDotProductAttention(q, k, v, { impl: 'fused', causal: true }),
        (q, k, v) => ref.scaledDotProductAttention(nd(q), nd(k), nd(v), { causal: true }),
        inputsOf(c, 6),
        { atol: 2e-6, rtol: 1e-5, gradAtol: 1e-4, gradRtol: 1e-3 },
      ));
  });

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
