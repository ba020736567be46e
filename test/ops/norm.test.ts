import { beforeAll, describe, expect, it } from 'vitest';
import {
  batchNorm2d, fromArray, grad, gradcheck, groupNorm, layerNorm, mul, sum, tidy, withFlags, type FlagValues,
  type GpuContext, type HostArray, type Tensor,
} from '../../src/index.js';
import * as ref from '../../src/reference/index.ts';
import { assertClose, checkOp, f32, nd, randomArray, setupGpu, up } from '../helpers/gpu.js';
import { loadFamily, matchFixture } from '../helpers/op-fixtures.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

type Path = 'workgroup' | 'split' | 'thread';
const PATHS: Path[] = ['workgroup', 'split', 'thread'];
/** The flags that force one kernel path: a workgroup per row, several per row (split), or a thread per row. */
const pathFlags = (p: Path): Partial<FlagValues> => (p === 'split'
  ? { 'norm.rowKernel': 'workgroup', 'norm.splitRowsBelow': 1e9, 'norm.minChunk': 8, 'norm.targetWorkgroups': 1e9, 'norm.maxChunks': 64 }
  : { 'norm.splitRowsBelow': 0, 'norm.rowKernel': p });

// ---------------------------------------------------------------------------------------------
// Fixtures (PyTorch): NAME.<input>, NAME.out, NAME.R, NAME.grad_<input> = d sum(out·R) / d input.

describe('PyTorch fixtures (test/fixtures/ops/norm.*)', () => {
  const run = (path: Path) => withFlags(pathFlags(path), async () => {
    const fam = await loadFamily('norm');
    expect(Object.keys(fam.meta.cases).sort()).toEqual(['batch_norm_eval', 'batch_norm_train', 'group_norm', 'group_norm_eps6', 'layer_norm']);
    expect(await matchFixture(fam, 'group_norm', ['x', 'w', 'b'], ({ x, w, b }) => groupNorm(x, 4, w, b, 1e-5))).toBe(3);
    expect(await matchFixture(fam, 'group_norm_eps6', ['x', 'w', 'b'], ({ x, w, b }) => groupNorm(x, 2, w, b, 1e-6))).toBe(3);
    expect(await matchFixture(fam, 'layer_norm', ['x', 'w', 'b'], ({ x, w, b }) => layerNorm(x, [16], w, b, 1e-5))).toBe(3);
    expect(await matchFixture(
      fam, 'batch_norm_eval', ['x', 'rm', 'rv', 'w', 'b'], ({ x, rm, rv, w, b }) => batchNorm2d(x, rm, rv, w, b, { training: false, eps: 1e-5 }),
    )).toBe(3);
    expect(await matchFixture(
      fam, 'batch_norm_train', ['x', 'w', 'b'], ({ x, w, b }) => batchNorm2d(x, null, null, w, b, { training: true, eps: 1e-5 }),
    )).toBe(3);
  });
  it('all five cases: out, grad_x, grad_w, grad_b (one workgroup per row)', () => run('workgroup'));
  it('all five cases through the split (several workgroups per row) kernels', () => run('split'));
  it('all five cases through the thread-per-row kernels (CPU adapters)', () => run('thread'));
});

// ---------------------------------------------------------------------------------------------
// GPU vs CPU reference, forward and gradcheck (x, weight, bias).

const gnCases: Array<{ name: string; shape: number[]; groups: number; affine: 'wb' | 'w' | 'b' | 'none'; eps?: number }> = [
  { name: '[2, 4, 3, 3] 2 groups, w + b (S < 32: column partials)', shape: [2, 4, 3, 3], groups: 2, affine: 'wb' },
  { name: '[1, 4, 6, 6] 4 groups, w + b (S >= 32: plane partials)', shape: [1, 4, 6, 6], groups: 4, affine: 'wb' },
  { name: '[2, 6, 5] 3 groups, no affine', shape: [2, 6, 5], groups: 3, affine: 'none' },
  { name: '[3, 4] 2 groups (2-D input), weight only', shape: [3, 4], groups: 2, affine: 'w' },
  { name: '[2, 4, 2, 2] 1 group, bias only, eps 1e-6', shape: [2, 4, 2, 2], groups: 1, affine: 'b', eps: 1e-6 },
];

function affineInputs(shape: readonly number[], affine: string, seed: number): { inputs: HostArray[]; idx: { w: number; b: number } } {
  const inputs: HostArray[] = [randomArray(shape, seed, -2, 2)];
  const idx = { w: -1, b: -1 };
  const C = shape[1];
  if (affine.includes('w')) { idx.w = inputs.length; inputs.push(randomArray([C], seed + 1, 0.5, 1.5)); }
  if (affine.includes('b')) { idx.b = inputs.length; inputs.push(randomArray([C], seed + 2, -1, 1)); }
  return { inputs, idx };
}

describe('groupNorm vs reference, forward and gradcheck', () => {
  for (const path of PATHS) {
    for (const c of gnCases) {
      it(`${c.name} [${path}]`, () => withFlags(pathFlags(path), async () => {
        const eps = c.eps ?? 1e-5;
        const { inputs, idx } = affineInputs(c.shape, c.affine, 11);
        await checkOp(
          `groupNorm ${c.name}`,
          (...t) => groupNorm(t[0], c.groups, t[idx.w] ?? null, t[idx.b] ?? null, eps),
          (...a) => ref.groupNorm(nd(a[0]), c.groups, idx.w >= 0 ? nd(a[idx.w]) : null, idx.b >= 0 ? nd(a[idx.b]) : null, eps),
          inputs,
          { atol: 2e-5, rtol: 1e-4, eps: 1e-4 },
        );
      }));
    }
  }
});

describe('layerNorm vs reference, forward and gradcheck', () => {
  const cases: Array<{ name: string; shape: number[]; norm: number[]; affine: 'wb' | 'w' | 'none' }> = [
    { name: '[3, 5, 8] over [8], w + b', shape: [3, 5, 8], norm: [8], affine: 'wb' },
    { name: '[2, 3, 4] over [3, 4] (2-D weight)', shape: [2, 3, 4], norm: [3, 4], affine: 'wb' },
    { name: '[4, 6] over [6], no affine', shape: [4, 6], norm: [6], affine: 'none' },
    { name: '[2, 40] over [40], weight only', shape: [2, 40], norm: [40], affine: 'w' },
  ];
  for (const path of PATHS) {
    for (const c of cases) {
      it(`${c.name} [${path}]`, () => withFlags(pathFlags(path), async () => {
        const inputs: HostArray[] = [randomArray(c.shape, 21, -3, 3)];
        if (c.affine.includes('w')) inputs.push(randomArray(c.norm, 22, 0.5, 1.5));
        if (c.affine.includes('b')) inputs.push(randomArray(c.norm, 23, -1, 1));
        await checkOp(
          `layerNorm ${c.name}`,
          (x, w, b) => layerNorm(x, c.norm, w ?? null, b ?? null),
          (x, w, b) => ref.layerNorm(nd(x), c.norm, w ? nd(w) : null, b ? nd(b) : null),
          inputs,
          { atol: 2e-5, rtol: 1e-4, eps: 1e-4 },
        );
      }));
    }
  }

  it('a long row (1500 elements: 256-thread workgroups)', async () => {
    const a = randomArray([3, 1500], 24, -2, 2);
    const y = layerNorm(up(a), [1500]);
    assertClose(await y.toArray(), ref.layerNorm(f32(a), [1500], null, null).data, { atol: 2e-5, rtol: 1e-4 });
  });
});

describe('batchNorm2d', () => {
  const shapes = [[3, 4, 2, 2], [5, 3], [2, 3, 7]];
  for (const path of PATHS) {
    for (const shape of shapes) {
      it(`training ${JSON.stringify(shape)}: forward and gradcheck (x, w, b) [${path}]`, () => withFlags(pathFlags(path), async () => {
        const C = shape[1];
        await checkOp(
          `batchNorm2d train ${shape}`,
          (x, w, b) => batchNorm2d(x, null, null, w, b, { training: true }),
          (x, w, b) => ref.batchNorm2d(nd(x), null, null, nd(w), nd(b), { training: true }),
          [randomArray(shape, 31, -2, 2), randomArray([C], 32, 0.5, 1.5), randomArray([C], 33, -1, 1)],
          { atol: 2e-5, rtol: 1e-4, eps: 1e-4 },
        );
      }));
    }
  }

  it('training updates the running statistics in place (unbiased variance, momentum)', async () => {
    const xa = randomArray([4, 3, 3, 3], 34, -1, 3);
    const rmA = randomArray([3], 35, -0.5, 0.5);
    const rvA = randomArray([3], 36, 0.5, 2);
    const rm = up(rmA);
    const rv = up(rvA);
    const refRm = f32(rmA);
    const refRv = f32(rvA);
    const y = batchNorm2d(up(xa), rm, rv, null, null, { training: true, momentum: 0.3 });
    const expected = ref.batchNorm2d(f32(xa), refRm, refRv, null, null, { training: true, momentum: 0.3 });
    assertClose(await y.toArray(), expected.data, { atol: 2e-5, rtol: 1e-4 }, 'y');
    assertClose(await rm.toArray(), refRm.data, { atol: 1e-6, rtol: 1e-5 }, 'running mean');
    assertClose(await rv.toArray(), refRv.data, { atol: 1e-6, rtol: 1e-5 }, 'running var');
  });

  it('inference uses the running statistics: forward and gradcheck (x, w, b)', async () => {
    const rm = randomArray([4], 41, -0.5, 0.5);
    const rv = randomArray([4], 42, 0.5, 2);
    await checkOp(
      'batchNorm2d eval',
      (x, w, b) => batchNorm2d(x, up(rm), up(rv), w, b),
      (x, w, b) => ref.batchNorm2d(nd(x), f32(rm), f32(rv), nd(w), nd(b)),
      [randomArray([2, 4, 3, 3], 43, -2, 2), randomArray([4], 44, 0.5, 1.5), randomArray([4], 45, -1, 1)],
      { atol: 2e-5, rtol: 1e-4, eps: 1e-4 },
    );
  });

  it('errors: inference without running statistics, training with one value per channel', () => {
    const x = up(randomArray([1, 2], 46));
    expect(() => batchNorm2d(x, null, null)).toThrow(/running statistics/);
    expect(() => batchNorm2d(x, null, null, null, null, { training: true })).toThrow(/more than 1 value per channel/);
  });
});

describe('numerical stability', () => {
  it('large mean (1e4 + U(-1, 1)) over a long row: Welford statistics, every kernel path', async () => {
    const a = randomArray([1, 4, 64, 64], 51, -1, 1);
    a.data.forEach((v, i) => (a.data[i] = 1e4 + v));
    const expected = ref.groupNorm(f32(a), 1, null, null, 1e-5).data;
    for (const path of PATHS) {
      const y = withFlags(pathFlags(path), () => groupNorm(up(a), 1));
      // f32 inputs near 1e4 carry ~5e-4 absolute rounding; the statistics must not add more.
      assertClose(await y.toArray(), expected, { atol: 3e-4, rtol: 1e-3 }, path);
    }
  });

  it('a constant row normalises to 0 (variance 0 + eps), not NaN', async () => {
    const y = layerNorm(fromArray(new Float32Array(64).fill(3.25), [2, 32], { ctx }), [32]);
    expect(Array.from(await y.toArray()).every((v) => v === 0)).toBe(true);
  });
});

describe('errors name the op and the shapes', () => {
  it('groupNorm / layerNorm shape checks', () => {
    const x = up(randomArray([2, 6, 3], 61));
    expect(() => groupNorm(x, 4)).toThrow(/groupNorm: 4 groups must divide the 6 channels of \[2, 6, 3\]/);
    expect(() => groupNorm(x, 3, up(randomArray([5], 62)))).toThrow(/groupNorm: weight \[5\] must be \[6\]/);
    expect(() => layerNorm(x, [6])).toThrow(/layerNorm: normalized shape \[6\] does not end the input shape \[2, 6, 3\]/);
  });
});

// ---------------------------------------------------------------------------------------------
// Higher-order gradients: under createGraph the vjp is composed of differentiable ops.

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

describe('double backward (createGraph)', () => {
  const R1 = (n: number) => randomArray([n], 71, -1, 1).data;
  const cases: Array<{
    name: string; shape: number[]; gpu: (x: Tensor, w: Tensor) => Tensor; cpu: (x: ref.NDArray, w: ref.NDArray) => ref.NDArray; wShape: number[];
  }> = [
    { name: 'groupNorm [2, 4, 3]', shape: [2, 4, 3], wShape: [4], gpu: (x, w) => groupNorm(x, 2, w), cpu: (x, w) => ref.groupNorm(x, 2, w, null) },
    { name: 'layerNorm [3, 5]', shape: [3, 5], wShape: [5], gpu: (x, w) => layerNorm(x, [5], w), cpu: (x, w) => ref.layerNorm(x, [5], w, null) },
    {
      name: 'batchNorm2d train [3, 2, 2]', shape: [3, 2, 2], wShape: [2],
      gpu: (x, w) => batchNorm2d(x, null, null, w, null, { training: true }), cpu: (x, w) => ref.batchNorm2d(x, null, null, w, null, { training: true }),
    },
  ];
  for (const c of cases) {
    it(`${c.name}: d/dx of the input gradient matches finite differences`, async () => {
      const n = c.shape.reduce((a, b) => a * b, 1);
      const R = R1(n);
      const wa = randomArray(c.wShape, 72, 0.5, 1.5);
      const Rt = fromArray(Float32Array.from(R), c.shape, { ctx });
      const w = up(wa);
      const r = await gradcheck(
        ctx,
        (x) => {
          const y = c.gpu(x, w);
          const [gx] = grad(y, [x], [Rt], { createGraph: true });
          y.dispose();
          return gx!;
        },
        (x) => numericGrad((xx) => c.cpu(xx, f32(wa)), x, R),
        [randomArray(c.shape, 73, -2, 2)],
        { eps: 1e-4, atol: 2e-3, rtol: 2e-2 },
      );
      expect(r.ok, r.messages.join('; ')).toBe(true);
    });
  }

  it('the composed (createGraph) vjp equals the fused one to first order, for x, w and b', async () => {
    const xa = randomArray([2, 4, 5], 81, -2, 2);
    const wa = randomArray([4], 82, 0.5, 1.5);
    const ba = randomArray([4], 83, -1, 1);
    const Ra = randomArray([2, 4, 5], 84, -1, 1);
    const grads = async (createGraph: boolean) => {
      const [x, w, b] = [up(xa, true), up(wa, true), up(ba, true)];
      const out = tidy(() => {
        const y = groupNorm(x, 2, w, b);
        return grad(y, [x, w, b], [up(Ra)], { createGraph });
      });
      return Promise.all(out.map((g) => g!.toArray()));
    };
    const fused = await grads(false);
    const composed = await grads(true);
    fused.forEach((g, i) => assertClose(composed[i], g, { atol: 2e-5, rtol: 1e-4 }, `input ${i}`));
  });
});

describe('tape bookkeeping', () => {
  it('saved statistics are released with the graph; no leak over repeated steps', async () => {
    const x = up(randomArray([2, 4, 4, 4], 91), true);
    const w = up(randomArray([4], 92, 0.5, 1.5), true);
    const step = () => tidy(() => {
      const loss = sum(mul(groupNorm(x, 2, w), groupNorm(x, 4)));
      loss.backward();
    });
    step();
    await ctx.sync();
    const before = ctx.pool.snapshot().liveBuffers;
    for (let i = 0; i < 3; i++) step();
    await ctx.sync();
    expect(ctx.pool.snapshot().liveBuffers).toBe(before);
  });
});
