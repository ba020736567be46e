import { beforeAll, describe, expect, it } from 'vitest';
import { backward, embedding, fromArray, grad, gradcheck, sum, timestepEmbedding, type GpuContext } from '../../src/index.js';
import * as ref from '../../src/reference/index.ts';
import { assertClose, randomArray, setupGpu, up } from '../helpers/gpu.js';
import { loadFamily } from '../helpers/op-fixtures.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

describe('PyTorch fixtures (test/fixtures/ops/embed.*)', () => {
  it('embedding: out and grad_w (repeated ids accumulate), with i32-tensor and CPU indices', async () => {
    const fam = await loadFamily('embed');
    expect(Object.keys(fam.meta.cases).sort()).toEqual(['embedding', 'temb_f0_s0', 'temb_f0_s1', 'temb_f1_s0', 'temb_f1_s1']);
    const { atol, rtol } = fam.meta.cases.embedding;
    const ids = await fam.get('embedding.ids');
    const w = await fam.get('embedding.w');
    const R = await fam.get('embedding.R');
    const out = await fam.get('embedding.out');
    const gw = await fam.get('embedding.grad_w');
    expect(new Set(ids.data).size).toBeLessThan(ids.data.length); // the case does repeat ids
    const idTensor = fromArray(Int32Array.from(ids.data), ids.shape, { ctx });
    for (const indices of [idTensor, Array.from(ids.data)]) {
      const wt = up(w, true);
      const y = embedding(wt, indices);
      // number[] indices are 1-D; the tensor keeps the [2, 4] shape
      expect(y.shape).toEqual(indices === idTensor ? out.shape : [ids.data.length, w.shape[1]]);
      assertClose(await y.toArray(), out.data, { atol, rtol }, 'out');
      backward(y, fromArray(Float32Array.from(R.data), y.shape, { ctx }));
      assertClose(await wt.grad!.toArray(), gw.data, { atol, rtol }, 'grad_w');
    }
  });

  for (const name of ['temb_f1_s0', 'temb_f1_s1', 'temb_f0_s0', 'temb_f0_s1']) {
    it(`${name}: CPU timesteps, i32 and f32 tensor timesteps (GPU kernel)`, async () => {
      const fam = await loadFamily('embed');
      const { atol, rtol } = fam.meta.cases[name];
      const t = await fam.get(`${name}.t`);
      const want = await fam.get(`${name}.out`);
      const opts = { flipSinToCos: name.includes('f1'), downscaleFreqShift: name.endsWith('s1') ? 1 : 0 };
      const variants = {
        cpu: timestepEmbedding(Array.from(t.data), 32, opts),
        i32: timestepEmbedding(fromArray(Int32Array.from(t.data), [t.data.length], { ctx }), 32, opts),
        f32: timestepEmbedding(fromArray(Float32Array.from(t.data), [t.data.length], { ctx }), 32, opts),
      };
      for (const [k, y] of Object.entries(variants)) {
        expect(y.shape, k).toEqual(want.shape);
        assertClose(await y.toArray(), want.data, { atol, rtol }, `${name} ${k}`);
      }
    });
  }
});

describe('embedding vs reference', () => {
  it('[3, 2] indices into [7, 4]: forward and gradcheck w.r.t. the weight', async () => {
    const w = randomArray([7, 4], 1);
    const ids = [6, 0, 3, 3, 0, 5];
    const idT = fromArray(Int32Array.from(ids), [3, 2], { ctx });
    const y = embedding(up(w), idT);
    expect(y.shape).toEqual([3, 2, 4]);
    const expected = ref.embedding({ shape: w.shape, data: Float64Array.from(Float32Array.from(w.data)) }, ref.nd([3, 2], ids));
    assertClose(await y.toArray(), expected.data, { atol: 0, rtol: 0 });
    const r = await gradcheck(ctx, (wt) => embedding(wt, idT), (wa) => ref.embedding(wa, ref.nd([3, 2], ids)), [w]);
    expect(r.ok, r.messages.join('; ')).toBe(true);
  });

  it('second-order: the weight gradient (a scatter-add) is itself differentiable', async () => {
    const w = up(randomArray([5, 3], 2), true);
    const y = embedding(w, [1, 1, 4]);
    const [gw] = grad(sum(y), [w], undefined, { createGraph: true });
    expect(Array.from(await gw!.toArray())).toEqual([0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    expect(gw!.requiresGrad).toBe(false); // constant in w: no graph needed
  });

  it('errors: CPU index out of range, weight not 2-D', () => {
    const w = up(randomArray([4, 2], 3));
    expect(() => embedding(w, [0, 4])).toThrow(/embedding: index 4 \(position 1\) is out of range for 4 embeddings/);
    expect(() => embedding(w, [-1])).toThrow(/out of range/);
    expect(() => embedding(up(randomArray([8], 4)), [0])).toThrow(/embedding: weight must be \[num, dim\], got \[8\]/);
  });
});

describe('timestepEmbedding vs reference', () => {
  const ts = [0, 1, 17, 250.5, 999, 981];
  const cases: Array<{ dim: number; opts: ref.TimestepEmbeddingOptions }> = [
    { dim: 8, opts: {} },
    { dim: 7, opts: { flipSinToCos: true, downscaleFreqShift: 0 } },
    { dim: 320, opts: { flipSinToCos: true, downscaleFreqShift: 0 } },
    { dim: 16, opts: { scale: 3, maxPeriod: 500, downscaleFreqShift: 0.5 } },
  ];
  for (const c of cases) {
    it(`dim ${c.dim} ${JSON.stringify(c.opts)}: GPU kernel matches the float64 reference`, async () => {
      const expected = ref.timestepEmbedding(ts, c.dim, c.opts);
      const gpuOut = timestepEmbedding(fromArray(ts, [ts.length], { ctx }), c.dim, c.opts);
      expect(gpuOut.shape).toEqual([ts.length, c.dim]);
      assertClose(await gpuOut.toArray(), expected.data, { atol: 2e-6, rtol: 0 }, 'gpu');
      assertClose(await timestepEmbedding(ts, c.dim, c.opts).toArray(), expected.data, { atol: 1e-7, rtol: 0 }, 'cpu');
    });
  }

  it('errors: 2-D timesteps, bad dim', () => {
    expect(() => timestepEmbedding(fromArray([1, 2], [1, 2], { ctx }), 4)).toThrow(/timesteps must be a 1-D i32 or f32 tensor/);
    expect(() => timestepEmbedding([1], 0)).toThrow(/dim must be a positive integer/);
  });
});
