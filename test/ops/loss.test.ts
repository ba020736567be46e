import { beforeAll, describe, expect, it } from 'vitest';
import {
  binaryCrossEntropyWithLogits, cosineSimilarity, crossEntropy, fromArray, grad, gradcheck, l1Loss, mseLoss, sum,
  type GpuContext, } from '../../src/index.js';
import * as ref from '../../src/reference/index.ts';
import { checkOp, nd, randomArray, setupGpu, up } from '../helpers/gpu.js';
import { loadFamily, matchFixture } from '../helpers/op-fixtures.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

const TOL = { atol: 1e-5, rtol: 1e-4, eps: 1e-4 };

describe('PyTorch fixtures (test/fixtures/ops/loss.*)', () => {
  it('crossEntropy (indices: i32 tensor, f32 tensor, CPU numbers; soft), BCE with logits, MSE, L1, cosine', async () => {
    const fam = await loadFamily('loss');
    expect(Object.keys(fam.meta.cases).sort()).toEqual(['bce_logits', 'cosine', 'cross_entropy', 'cross_entropy_soft', 'l1', 'mse']);
    const ids = Array.from((await fam.get('cross_entropy.target')).data);
    expect(await matchFixture(fam, 'cross_entropy', ['logits', 'target'], ({ logits, target }) => crossEntropy(logits, target.int()))).toBe(1);
    expect(await matchFixture(fam, 'cross_entropy', ['logits', 'target'], ({ logits, target }) => crossEntropy(logits, target))).toBe(1);
    expect(await matchFixture(fam, 'cross_entropy', ['logits'], ({ logits }) => crossEntropy(logits, ids))).toBe(1);
    expect(await matchFixture(fam, 'cross_entropy_soft', ['logits', 'p'], ({ logits, p }) => crossEntropy(logits, p))).toBe(2);
    expect(await matchFixture(fam, 'bce_logits', ['x', 'y'], ({ x, y }) => binaryCrossEntropyWithLogits(x, y))).toBe(2);
    expect(await matchFixture(fam, 'mse', ['a', 'b'], ({ a, b }) => mseLoss(a, b))).toBe(2);
    expect(await matchFixture(fam, 'l1', ['a', 'b'], ({ a, b }) => l1Loss(a, b))).toBe(2);
    expect(await matchFixture(fam, 'cosine', ['a', 'b'], ({ a, b }) => cosineSimilarity(a, b, -1, 1e-8))).toBe(2);
  });
});

describe('crossEntropy vs reference', () => {
  const ids = [0, 4, 2, 2];
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    it(`[4, 5] class indices, reduction ${reduction}`, async () => {
      const t = fromArray(Int32Array.from(ids), [4], { ctx });
      await checkOp(
        `ce ${reduction}`,
        (l) => crossEntropy(l, t, { reduction }),
        (l) => ref.crossEntropy(nd(l), ref.nd([4], ids), { reduction }),
        [randomArray([4, 5], 1, -3, 3)],
        TOL,
      );
    });
  }

  it('[2, 3, 4] spatial logits with [2, 4] indices', async () => {
    const tIds = [0, 1, 2, 1, 2, 2, 0, 1];
    const t = fromArray(Int32Array.from(tIds), [2, 4], { ctx });
    await checkOp('ce spatial', (l) => crossEntropy(l, t), (l) => ref.crossEntropy(nd(l), ref.nd([2, 4], tIds)), [randomArray([2, 3, 4], 2, -3, 3)], TOL);
  });

  it('soft targets: gradients w.r.t. logits and targets; label smoothing', async () => {
    for (const labelSmoothing of [0, 0.2]) {
      await checkOp(
        `ce soft ls=${labelSmoothing}`,
        (l, p) => crossEntropy(l, p, { labelSmoothing }),
        (l, p) => ref.crossEntropy(nd(l), nd(p), { labelSmoothing }),
        [randomArray([3, 4], 3, -3, 3), randomArray([3, 4], 4, 0, 1)],
        TOL,
      );
    }
  });

  it('ignoreIndex (default -100) is excluded from the mean; label smoothing with indices', async () => {
    const tIds = [1, -100, 3, 0, 7];
    const t = fromArray(Int32Array.from(tIds), [5], { ctx });
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      await checkOp(
        `ce ignore ${reduction}`,
        (l) => crossEntropy(l, t, { reduction }),
        (l) => ref.crossEntropy(nd(l), ref.nd([5], tIds), { reduction }),
        [randomArray([5, 8], 5, -3, 3)],
        TOL,
      );
    }
    await checkOp('ce ignore 7, smoothing', (l) => crossEntropy(l, tIds.map((v) => (v === -100 ? 2 : v)), { ignoreIndex: 7, labelSmoothing: 0.1 }),
      (l) => ref.crossEntropy(nd(l), ref.nd([5], tIds.map((v) => (v === -100 ? 2 : v))), { ignoreIndex: 7, labelSmoothing: 0.1 }),
      [randomArray([5, 8], 6, -3, 3)], TOL);
  });

  it('errors: CPU index out of range, wrong target shape', () => {
    const l = up(randomArray([2, 3], 7));
    expect(() => crossEntropy(l, [0, 3])).toThrow(/crossEntropy: class index 3 \(position 1\) is out of range for 3 classes/);
    expect(() => crossEntropy(l, fromArray(Int32Array.from([0, 1, 2]), [3], { ctx }))).toThrow(/class-index target \[3\] must be \[2\]/);
  });

  it('second-order: the Hessian-vector product w.r.t. logits is finite-difference exact', async () => {
    const ids2 = [2, 0, 1];
    const t = fromArray(Int32Array.from(ids2), [3], { ctx });
    const V = randomArray([3, 4], 8, -1, 1);
    const Vt = up(V);
    const r = await gradcheck(
      ctx,
      (l) => {
        const [g] = grad(crossEntropy(l, t), [l], undefined, { createGraph: true });
        return sum(g!.mul(Vt));
      },
      (l) => {
        // directional derivative of the gradient's dot with V: numeric gradient of CE, dotted with V
        const h = 1e-5;
        let s = 0;
        for (let j = 0; j < l.data.length; j++) {
          const p = Float64Array.from(l.data);
          const m = Float64Array.from(l.data);
          p[j] += h;
          m[j] -= h;
          const f = (d: Float64Array) => ref.crossEntropy({ shape: l.shape, data: d }, ref.nd([3], ids2)).data[0];
          s += ((f(p) - f(m)) / (2 * h)) * V.data[j];
        }
        return ref.nd([], [s]);
      },
      [randomArray([3, 4], 9, -2, 2)],
      { eps: 1e-4, atol: 1e-3, rtol: 1e-2 },
    );
    expect(r.ok, r.messages.join('; ')).toBe(true);
  });
});

describe('binaryCrossEntropyWithLogits vs reference', () => {
  it('plain, posWeight (tensor broadcast over the last axis, and a number), weight, reductions', async () => {
    const x = randomArray([3, 4], 11, -30, 30); // large |x|: the stable form must not overflow
    const y = randomArray([3, 4], 12, 0, 1);
    const pw = randomArray([4], 13, 0.5, 3);
    const w = randomArray([3, 1], 14, 0.1, 2);
    await checkOp('bce', (a, b) => binaryCrossEntropyWithLogits(a, b), (a, b) => ref.binaryCrossEntropyWithLogits(nd(a), nd(b)), [x, y], TOL);
    const pwt = up(pw);
    await checkOp('bce posWeight', (a, b) => binaryCrossEntropyWithLogits(a, b, { posWeight: pwt, reduction: 'sum' }),
      (a, b) => ref.binaryCrossEntropyWithLogits(nd(a), nd(b), { posWeight: ref.nd([4], Float32Array.from(pw.data)), reduction: 'sum' }), [x, y], TOL);
    const wt = up(w);
    await checkOp('bce posWeight 2, weight, none', (a, b) => binaryCrossEntropyWithLogits(a, b, { posWeight: 2, weight: wt, reduction: 'none' }),
      (a, b) => ref.binaryCrossEntropyWithLogits(nd(a), nd(b), { posWeight: 2, weight: ref.nd([3, 1], Float32Array.from(w.data)), reduction: 'none' }),
      [x, y], TOL);
  });
});

describe('mseLoss / l1Loss vs reference', () => {
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    it(`reduction ${reduction}`, async () => {
      const ins = [randomArray([2, 3, 4], 21), randomArray([2, 3, 4], 22)];
      await checkOp(`mse ${reduction}`, (a, b) => mseLoss(a, b, { reduction }), (a, b) => ref.mseLoss(nd(a), nd(b), { reduction }), ins, TOL);
      await checkOp(`l1 ${reduction}`, (a, b) => l1Loss(a, b, { reduction }), (a, b) => ref.l1Loss(nd(a), nd(b), { reduction }), ins, TOL);
    });
  }

  it('l1: gradient 0 where a = b (PyTorch); shape mismatch is an error', async () => {
    const a = fromArray([1, 2], [2], { ctx, requiresGrad: true });
    const b = fromArray([1, 3], [2], { ctx });
    l1Loss(a, b).backward();
    expect(Array.from(await a.grad!.toArray())).toEqual([0, -0.5]);
    expect(() => mseLoss(a, fromArray([1, 2, 3], [3], { ctx }))).toThrow(/mseLoss: input \[2\] and target \[3\] differ/);
  });
});

describe('cosineSimilarity vs reference', () => {
  const cases: Array<{ name: string; a: number[]; b: number[]; dim: number }> = [
    { name: '[3, 6] dim 1', a: [3, 6], b: [3, 6], dim: 1 },
    { name: '[2, 5, 3] dim -1', a: [2, 5, 3], b: [2, 5, 3], dim: -1 },
    { name: '[4, 3] vs [1, 3] broadcast, dim 1', a: [4, 3], b: [1, 3], dim: 1 },
    { name: '[3] vs [2, 3] (rank broadcast), dim -1', a: [3], b: [2, 3], dim: -1 },
    { name: '[2, 4, 3] dim 0', a: [2, 4, 3], b: [2, 4, 3], dim: 0 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await checkOp(`cos ${c.name}`, (a, b) => cosineSimilarity(a, b, c.dim), (a, b) => ref.cosineSimilarity(nd(a), nd(b), c.dim),
        [randomArray(c.a, 31, -2, 2), randomArray(c.b, 32, -2, 2)], TOL);
    });
  }

  it('a zero vector gives 0 with finite (zero) gradients', async () => {
    const a = fromArray([0, 0, 0, 1, 2, 3], [2, 3], { ctx, requiresGrad: true });
    const b = fromArray([1, 2, 3, 1, 0, 1], [2, 3], { ctx, requiresGrad: true });
    const y = cosineSimilarity(a, b);
    const out = await y.toArray();
    expect(out[0]).toBe(0);
    sum(y).backward();
    for (const t of [a, b]) expect(Array.from(await t.grad!.toArray()).every(Number.isFinite)).toBe(true);
    expect(Array.from((await b.grad!.toArray()).slice(0, 3))).toEqual([0, 0, 0]);
  });
});
