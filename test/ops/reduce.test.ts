import { beforeAll, describe, expect, it } from 'vitest';
import {
  backward, fromArray, logsumexp, withFlags, max, mean, min, sum, sumToShape, variance, type GpuContext, type Tensor,
} from '../../src/index.js';
import * as ref from '../../src/reference/index.ts';
import { assertClose, checkOp, f32, nd, randomArray, setupGpu, up } from '../helpers/gpu.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

const vals = (t: Tensor) => t.toArray().then((a) => Array.from(a));

type Axes = number | number[] | undefined;
type Name = 'sum' | 'mean' | 'max' | 'min' | 'logsumexp' | 'var';
const GPU: Record<Name, (x: Tensor, axes: Axes, keepdim: boolean) => Tensor> = {
  sum: (x, a, k) => sum(x, a, k),
  mean: (x, a, k) => mean(x, a, k),
  max: (x, a, k) => max(x, a, k),
  min: (x, a, k) => min(x, a, k),
  logsumexp: (x, a, k) => logsumexp(x, a, k),
  var: (x, a, k) => variance(x, a, { keepdim: k }),
};
const REF: Record<Name, (x: ref.NDArray, axes: Axes, keepdim: boolean) => ref.NDArray> = {
  sum: (x, a, k) => ref.sum(x, a, { keepdim: k }),
  mean: (x, a, k) => ref.mean(x, a, { keepdim: k }),
  max: (x, a, k) => ref.max(x, a, { keepdim: k }),
  min: (x, a, k) => ref.min(x, a, { keepdim: k }),
  logsumexp: (x, a, k) => ref.logsumexp(x, a, { keepdim: k }),
  var: (x, a, k) => ref.variance(x, a, { keepdim: k }),
};

const AXES: Array<{ axes: Axes; keepdim: boolean }> = [
  { axes: 1, keepdim: false },
  { axes: -1, keepdim: true },
  { axes: [0, 2], keepdim: false },
  { axes: [-3, -2], keepdim: true },
  { axes: undefined, keepdim: false },
  { axes: [0, 1, 2], keepdim: true },
];

describe('reductions vs reference over [3, 4, 5], forward and gradcheck', () => {
  for (const kernel of ['auto', 'thread', 'workgroup'] as const) for (const name of Object.keys(GPU) as Name[]) {
    it(`${name}${kernel === 'auto' ? '' : ` (forced: a ${kernel} per output)`}`, () => withFlags({ 'reduce.kernel': kernel }, async () => {
      for (const [k, { axes, keepdim }] of AXES.entries()) {
        await checkOp(
          `${name} axes=${JSON.stringify(axes)} keepdim=${keepdim}`,
          (x) => GPU[name](x, axes, keepdim),
          (x) => REF[name](nd(x), axes, keepdim),
          [randomArray([3, 4, 5], 60 + k, -2, 2)],
          { atol: 1e-5, rtol: 1e-5 },
        );
      }
    }));
  }

  it('two reduced axes with a long inner one ([2, 3, 70] over [0, 2]: nested loops in both kernels)', async () => {
    for (const kernel of ['thread', 'workgroup'] as const) for (const name of Object.keys(GPU) as Name[]) {
      await withFlags({ 'reduce.kernel': kernel }, () => checkOp(
        `${name} [${kernel}]`, (x) => GPU[name](x, [0, 2], false), (x) => REF[name](nd(x), [0, 2], false),
        [randomArray([2, 3, 70], 66, -2, 2)], { atol: 1e-5, rtol: 1e-5 },
      ));
    }
  });

  it('0-d and size-1 inputs', async () => {
    for (const name of Object.keys(GPU) as Name[]) {
      if (name === 'var') continue; // one sample: NaN with correction 1, tested below
      await checkOp(
        `${name} 0-d`,
        (x) => GPU[name](x, undefined, false),
        (x) => REF[name](nd(x), undefined, false),
        [randomArray([], 70)],
        { atol: 1e-6, rtol: 1e-6 },
      );
      await checkOp(
        `${name} [1, 3, 1] axis 0`,
        (x) => GPU[name](x, 0, false),
        (x) => REF[name](nd(x), 0, false),
        [randomArray([1, 3, 1], 71)],
        { atol: 1e-6, rtol: 1e-6 },
      );
    }
  });

  it('method forms: x.sum(), x.mean(1, true), x.var(0, { correction: 0 })', async () => {
    const a = randomArray([3, 4], 72);
    const x = up(a);
    assertClose(await x.sum().toArray(), ref.sum(f32(a)).data, { atol: 1e-6 });
    assertClose(await x.mean(1, true).toArray(), ref.mean(f32(a), 1, { keepdim: true }).data, { atol: 1e-6 });
    assertClose(await x.max(0).toArray(), ref.max(f32(a), 0).data, { atol: 0 });
    assertClose(await x.min([0, 1]).toArray(), ref.min(f32(a)).data, { atol: 0 });
    assertClose(await x.logsumexp(-1).toArray(), ref.logsumexp(f32(a), -1).data, { atol: 1e-6 });
    assertClose(await x.var(0, { correction: 0 }).toArray(), ref.variance(f32(a), 0, { correction: 0 }).data, { atol: 1e-6 });
    expect(x.sum(1, true).shape).toEqual([3, 1]);
    expect(x.sum().shape).toEqual([]);
  });
});

describe('variance', () => {
  for (const correction of [0, 1, 2]) {
    it(`correction ${correction}, forward and gradcheck`, async () => {
      await checkOp(
        `var correction ${correction}`,
        (x) => variance(x, [0, 2], { correction, keepdim: true }),
        (x) => ref.variance(nd(x), [0, 2], { correction, keepdim: true }),
        [randomArray([3, 2, 4], 73, -3, 3)],
        { atol: 1e-5, rtol: 1e-5 },
      );
    });
  }
  it('one sample with correction 1 is NaN (as torch); large offsets stay accurate (two-pass)', async () => {
    expect(Number.isNaN(await variance(fromArray([3], [1], { ctx })).item())).toBe(true);
    const a = { shape: [2, 50], data: randomArray([2, 50], 74).data.map((v) => 1000 + v) };
    assertClose(await variance(up(a), 1).toArray(), ref.variance(f32(a), 1).data, { atol: 1e-4, rtol: 1e-3 });
  });
});

describe('max / min gradients and special values', () => {
  it('ties share the gradient equally (torch.amax / amin)', async () => {
    const x = fromArray([1, 3, 3, 0, -2, -2, 5, -2], [2, 4], { ctx, requiresGrad: true });
    backward(sum(max(x, 1)));
    expect(await vals(x.grad!)).toEqual([0, 0.5, 0.5, 0, 0, 0, 1, 0]);
    x.grad!.dispose();
    x.grad = null;
    backward(sum(min(x, 1)));
    expect(await vals(x.grad!)).toEqual([0, 0, 0, 1, 1 / 3, 1 / 3, 0, 1 / 3].map(Math.fround));
  });

  it('NaN propagates through max / min / logsumexp; -inf rows give -inf logsumexp', async () => {
    const x = fromArray([1, NaN, 3, 2, 5, 1], [2, 3], { ctx });
    assertClose(await max(x, 1).toArray(), [NaN, 5], { atol: 0 });
    assertClose(await min(x, 1).toArray(), [NaN, 1], { atol: 0 });
    assertClose(await logsumexp(x, 1).toArray(), [NaN, ref.logsumexp(ref.nd([3], [2, 5, 1])).data[0]], { atol: 1e-6 });
    const y = fromArray([-Infinity, -Infinity, 1, -Infinity], [2, 2], { ctx });
    assertClose(await logsumexp(y, 1).toArray(), [-Infinity, 1], { atol: 0 });
    assertClose(await max(y, 1).toArray(), [-Infinity, 1], { atol: 0 });
  });

  it('logsumexp is stable for large values', async () => {
    const a = { shape: [3, 6], data: randomArray([3, 6], 75).data.map((v, i) => v + (i < 6 ? 1000 : i < 12 ? -1000 : 0)) };
    assertClose(await logsumexp(up(a), 1).toArray(), ref.logsumexp(f32(a), 1).data, { atol: 1e-4, rtol: 1e-6 });
  });

  it('empty reductions: sum 0, mean NaN', async () => {
    const x = fromArray([], [0, 3], { ctx });
    expect(await vals(sum(x, 0))).toEqual([0, 0, 0]);
    assertClose(await mean(x, 0).toArray(), [NaN, NaN, NaN], { atol: 0 });
    expect(sum(x, 1).shape).toEqual([0]);
  });
});

describe('large reductions', () => {
  it('5000 elements in one row', async () => {
    const a = randomArray([2, 5000], 76, -1, 1);
    const x = up(a);
    for (const name of Object.keys(GPU) as Name[]) {
      assertClose(await GPU[name](x, 1, false).toArray(), REF[name](f32(a), 1, false).data, { atol: 1e-4, rtol: 1e-4 }, name);
    }
  });

  it('70000 rows of 3 (more output elements than one grid dimension holds)', async () => {
    const a = randomArray([70000, 3], 77, -1, 1);
    const x = up(a, true);
    for (const name of ['sum', 'max', 'var'] as const) {
      assertClose(await GPU[name](x, 1, false).toArray(), REF[name](f32(a), 1, false).data, { atol: 1e-5, rtol: 1e-5 }, name);
    }
    // and down columns: 3 outputs of 70000 strided elements each
    assertClose(await mean(x, 0).toArray(), ref.mean(f32(a), 0).data, { atol: 1e-5, rtol: 1e-4 }, 'mean axis 0');
    backward(sum(mean(x, 1)));
    const g = await x.grad!.toArray();
    expect(g.every((v) => Math.abs(v - 1 / 3) < 1e-7)).toBe(true);
  });
});

describe('sumToShape and errors', () => {
  it('sumToShape reduces a broadcast gradient back', async () => {
    const a = randomArray([2, 3, 4], 78);
    assertClose(await sumToShape(up(a), [3, 1]).toArray(), ref.sum(ref.sum(f32(a), 0), 1, { keepdim: true }).data, { atol: 1e-6 });
  });

  it('names the op for bad and repeated axes, i32 and disposed inputs', () => {
    const x = up(randomArray([2, 3], 79));
    expect(() => sum(x, 2)).toThrow(/sum: axis 2 is out of range for a tensor of rank 2/);
    expect(() => mean(x, [1, -1])).toThrow(/mean: repeated axis/);
    expect(() => max(fromArray(new Int32Array([1]), [1], { ctx }))).toThrow(/max needs f32 tensors/);
    x.dispose();
    expect(() => logsumexp(x)).toThrow(/logsumexp: tensor #\d+ of shape \[2, 3\] was disposed/);
  });
});
