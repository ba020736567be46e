import { beforeAll, describe, expect, it } from 'vitest';
import {
  backward, fromArray, gather, grad, withFlags, indexSelect, mul, sum, tidy, type GpuContext, type Tensor,
} from '../../src/index.js';
import * as ref from '../../src/reference/index.ts';
import { assertClose, checkOp, nd, randomArray, setupGpu, up } from '../helpers/gpu.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

/** Seeded integers in [0, n). */
function randomIndex(shape: number[], n: number, seed: number): ref.NDArray {
  const r = randomArray(shape, seed, 0, n);
  return { shape, data: r.data.map(Math.floor) };
}
const i32 = (a: ref.NDArray) => fromArray(Int32Array.from(a.data), a.shape, { ctx });
const f32Index = (a: ref.NDArray) => fromArray(Float32Array.from(a.data), a.shape, { ctx });

describe('gather vs reference, forward and gradcheck (scatter-add)', () => {
  const cases: Array<{ name: string; x: number[]; axis: number; index: number[] }> = [
    { name: '[3, 4] axis 1, index [3, 6] (repeats)', x: [3, 4], axis: 1, index: [3, 6] },
    { name: '[3, 4] axis 0, index [5, 4]', x: [3, 4], axis: 0, index: [5, 4] },
    { name: '[2, 3, 5] axis -1, index smaller off the axis [2, 2, 7]', x: [2, 3, 5], axis: -1, index: [2, 2, 7] },
    { name: '[2, 3, 5] axis 1, index [1, 8, 3]', x: [2, 3, 5], axis: 1, index: [1, 8, 3] },
    { name: '[6] 1-D, index [10]', x: [6], axis: 0, index: [10] },
  ];
  for (const c of cases) {
    for (const [kind, make] of [['i32', i32], ['f32', f32Index]] as const) {
      it(`${c.name}, ${kind} index`, async () => {
        const a = c.axis < 0 ? c.axis + c.x.length : c.axis;
        const index = randomIndex(c.index, c.x[a], 21);
        const idxT = make(index);
        await checkOp(
          `gather ${c.name}`,
          (x) => gather(x, c.axis, idxT),
          (x) => ref.gather(nd(x), c.axis, index),
          [randomArray(c.x, 22)],
          { atol: 0, rtol: 0 },
        );
        idxT.dispose();
      });
    }
  }

  it('repeated indices accumulate: gradient counts the hits', async () => {
    const x = fromArray(new Float32Array(4), [1, 4], { ctx, requiresGrad: true });
    const index = fromArray(new Int32Array([3, 3, 3, 0, 3, 1, 3, 3]), [1, 8], { ctx });
    backward(sum(gather(x, 1, index)));
    expect(Array.from(await x.grad!.toArray())).toEqual([1, 1, 0, 6]);
  });

  it('many threads adding into one element (atomic compare-and-swap loop)', async () => {
    const n = 4096;
    const x = fromArray(new Float32Array(2), [2], { ctx, requiresGrad: true });
    const index = fromArray(new Int32Array(n).map((_, i) => i % 2), [n], { ctx });
    const w = fromArray(new Float32Array(n).map((_, i) => (i % 7) * 0.25), [n], { ctx });
    backward(sum(mul(gather(x, 0, index), w)));
    const expected = [0, 1].map((p) => Array.from({ length: n }, (_, i) => (i % 2 === p ? (i % 7) * 0.25 : 0)).reduce((s, v) => s + v, 0));
    expect(Array.from(await x.grad!.toArray())).toEqual(expected); // multiples of 1/4 below 2^24: exact in any order
  });

  it('gathers from an i32 tensor (no gradient)', async () => {
    const x = fromArray(new Int32Array([10, 20, 30, 40, 50, 60]), [2, 3], { ctx });
    const y = x.gather(1, fromArray(new Int32Array([2, 2, 1, 0]), [2, 2], { ctx }));
    expect(y.dtype).toBe('i32');
    expect(Array.from(await y.toArray())).toEqual([30, 30, 50, 40]);
  });

  it('second order: the scatter-add is itself differentiable (its vjp is the gather)', async () => {
    const index = randomIndex([3, 5], 4, 23);
    const idxT = i32(index);
    const w = randomArray([3, 5], 24);
    const wr = { shape: w.shape, data: Float64Array.from(Float32Array.from(w.data)) };
    // f(x) = d/dx Σ w·gather(x)² = scatterAdd(2·w·gather(x)); its vjp runs gather → scatterAdd.
    const cpu = (x: ref.NDArray) => {
      const out = ref.nd(x.shape);
      const g = ref.gather(x, 1, index);
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 5; j++) out.data[i * 4 + index.data[i * 5 + j]] += 2 * wr.data[i * 5 + j] * g.data[i * 5 + j];
      }
      return out;
    };
    await checkOp(
      'gather grad-of-grad',
      (x0) => tidy(() => {
        const x = x0.requiresGrad ? x0 : x0.detach().requiresGrad_();
        const y = gather(x, 1, idxT);
        return grad(sum(mul(mul(y, y), up(w))), [x], undefined, { createGraph: true })[0] as Tensor;
      }),
      (x) => cpu(nd(x)),
      [randomArray([3, 4], 25)],
      { atol: 1e-6, rtol: 1e-5 },
    );
  });
});

describe('indexSelect vs reference, forward and gradcheck', () => {
  const cases: Array<{ name: string; x: number[]; axis: number; m: number }> = [
    { name: '[5, 3] axis 0', x: [5, 3], axis: 0, m: 7 },
    { name: '[2, 5, 3] axis 1', x: [2, 5, 3], axis: 1, m: 4 },
    { name: '[2, 3, 5] axis -1', x: [2, 3, 5], axis: -1, m: 9 },
  ];
  for (const c of cases) {
    for (const path of ['deterministic', 'atomic'] as const) {
      it(`${c.name}, ${path} backward`, () => withFlags(path === 'atomic' ? { 'gather.deterministicLimit': 0 } : {}, async () => {
        const a = c.axis < 0 ? c.axis + c.x.length : c.axis;
        const index = randomIndex([c.m], c.x[a], 31);
        const idxT = i32(index);
        await checkOp(
          `indexSelect ${c.name}`,
          (x) => indexSelect(x, c.axis, idxT),
          (x) => ref.indexSelect(nd(x), c.axis, index),
          [randomArray(c.x, 32)],
          { atol: 0, rtol: 0 },
        );
      }));
    }
  }

  it('accepts CPU arrays, Int32Array, i32 and f32 tensors and works as a method', async () => {
    const a = randomArray([4, 3], 33);
    const x = up(a);
    const expected = ref.indexSelect(nd({ shape: a.shape, data: Float64Array.from(Float32Array.from(a.data)) }), 0, [3, 0, 3]).data;
    for (const idx of [[3, 0, 3], new Int32Array([3, 0, 3]), fromArray(new Int32Array([3, 0, 3]), [3], { ctx }), fromArray([3, 0, 3], [3], { ctx })]) {
      const y = x.indexSelect(0, idx);
      expect(y.shape).toEqual([3, 3]);
      assertClose(await y.toArray(), expected, { atol: 0, rtol: 0 });
    }
  });

  it('embedding-style lookup: repeated rows accumulate, deterministic and atomic paths agree', async () => {
    const vocab = 10;
    const dim = 4;
    const ids = Array.from({ length: 60 }, (_, i) => (i * 7) % vocab < 3 ? 2 : (i * 3) % vocab);
    const W = randomArray([vocab, dim], 34);
    const G = randomArray([ids.length, dim], 35);
    const expected = new Float64Array(vocab * dim);
    ids.forEach((r, k) => { for (let c = 0; c < dim; c++) expected[r * dim + c] += Math.fround(G.data[k * dim + c]); });
    const results: Float32Array[] = [];
    for (const limit of [2 ** 26, 0]) {
      const w = up(W, true);
      withFlags({ 'gather.deterministicLimit': limit }, () => backward(indexSelect(w, 0, ids), up(G)));
      results.push((await w.grad!.toArray()) as Float32Array);
    }
    assertClose(results[0], expected, { atol: 1e-5, rtol: 1e-5 }, 'deterministic');
    assertClose(results[1], expected, { atol: 1e-5, rtol: 1e-5 }, 'atomic');
  });

  it('the deterministic backward is bitwise reproducible', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => (i * 13) % 3);
    const G = randomArray([200, 5], 36);
    const runs: number[][] = [];
    for (let r = 0; r < 3; r++) {
      const w = fromArray(new Float32Array(15), [3, 5], { ctx, requiresGrad: true });
      backward(indexSelect(w, 0, ids), up(G));
      runs.push(Array.from(await w.grad!.toArray()));
    }
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
  });

  it('an empty index gives an empty axis; negative CPU indices count from the end', async () => {
    const x = up(randomArray([3, 4], 37));
    expect(indexSelect(x, 1, []).shape).toEqual([3, 0]);
    const a = await indexSelect(x, 1, [-1, -4]).toArray();
    const b = await indexSelect(x, 1, [3, 0]).toArray();
    expect(Array.from(a)).toEqual(Array.from(b));
  });
});

describe('index range and errors', () => {
  it('tensor indices: -len <= i < 0 wraps, beyond that the kernel clamps (documented)', async () => {
    const x = fromArray([10, 11, 12, 13], [4], { ctx });
    const idx = fromArray(new Int32Array([-1, -4, 4, 100, -5, -100]), [6], { ctx });
    expect(Array.from(await gather(x, 0, idx).toArray())).toEqual([13, 10, 13, 13, 10, 10]);
    expect(Array.from(await indexSelect(x, 0, idx).toArray())).toEqual([13, 10, 13, 13, 10, 10]);
  });

  it('CPU indices out of range throw, naming the op', () => {
    const x = fromArray([1, 2, 3, 4, 5, 6], [2, 3], { ctx });
    expect(() => indexSelect(x, 1, [0, 3])).toThrow(/indexSelect: index 3 \(position 1\) is out of range for axis 1 of size 3 in \[2, 3\]/);
    expect(() => indexSelect(x, 0, [-3])).toThrow(/indexSelect: index -3/);
    expect(() => indexSelect(x, 0, [0.5])).toThrow(/indexSelect: index 0.5/);
  });

  it('shape, dtype and disposal errors name the op and the shapes', () => {
    const x = fromArray([1, 2, 3, 4, 5, 6], [2, 3], { ctx });
    expect(() => gather(x, 1, fromArray(new Int32Array(6), [6], { ctx }))).toThrow(/gather: index \[6\] does not fit input \[2, 3\]/);
    expect(() => gather(x, 1, fromArray(new Int32Array(8), [4, 2], { ctx }))).toThrow(/gather: index \[4, 2\] does not fit input \[2, 3\]/);
    expect(() => gather(x, 2, fromArray(new Int32Array(2), [2, 1], { ctx }))).toThrow(/gather: axis 2 is out of range/);
    expect(() => indexSelect(x, 0, fromArray(new Int32Array(4), [2, 2], { ctx }))).toThrow(/indexSelect: the index must be 1-D, got shape \[2, 2\]/);
    if (ctx.f16) {
      expect(() => indexSelect(x, 0, fromArray([0, 1], [2], { ctx, dtype: 'f16' }))).toThrow(/indexSelect: the index must be an i32 tensor/);
    }
    const idx = fromArray(new Int32Array([0]), [1], { ctx });
    idx.dispose();
    expect(() => indexSelect(x, 0, idx)).toThrow(/indexSelect: tensor #\d+ of shape \[1\] was disposed/);
    x.dispose();
    expect(() => gather(x, 0, fromArray(new Int32Array([0]), [1, 1], { ctx }))).toThrow(/gather: tensor #\d+ of shape \[2, 3\] was disposed/);
  });
});
