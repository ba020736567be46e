import { beforeAll, describe, expect, it } from 'vitest';
import {
  adaptiveAvgPool2d, avgPool2d, backward, fromArray, grad, maxPool2d, maxPool2dWithIndices, mul, sum, tidy,
  type AvgPool2dOptions, type GpuContext, type MaxPool2dOptions,
} from '../../src/index.js';
import * as ref from '../../src/reference/index.ts';
import { assertClose, checkOp, nd, randomArray, setupGpu, up } from '../helpers/gpu.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

type P = number | [number, number];

describe('avgPool2d vs reference, forward and gradcheck', () => {
  const cases: Array<{ name: string; x: number[]; k: P; s?: P; p?: P; o?: AvgPool2dOptions }> = [
    { name: 'k2 (stride = kernel)', x: [2, 3, 6, 7], k: 2 },
    { name: 'k3 s2 p1', x: [1, 2, 9, 8], k: 3, s: 2, p: 1 },
    { name: 'k3 s1 p1 countIncludePad false', x: [1, 2, 5, 6], k: 3, s: 1, p: 1, o: { countIncludePad: false } },
    { name: 'k [2,3] s [1,2] p [1,1]', x: [2, 1, 5, 7], k: [2, 3], s: [1, 2], p: [1, 1] },
    { name: 'k3 s2 ceilMode, odd size', x: [1, 2, 8, 10], k: 3, s: 2, o: { ceilMode: true } },
    { name: 'k3 s2 p1 ceilMode no pad count', x: [1, 2, 8, 7], k: 3, s: 2, p: 1, o: { ceilMode: true, countIncludePad: false } },
    { name: 'divisorOverride 5', x: [1, 2, 6, 6], k: 3, s: 2, p: 1, o: { divisorOverride: 5 } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await checkOp(
        `avgPool2d ${c.name}`,
        (x) => avgPool2d(x, c.k, c.s, c.p ?? 0, c.o),
        (x) => ref.avgPool2d(nd(x), c.k, c.s, c.p ?? 0, c.o),
        [randomArray(c.x, 7)],
        { atol: 1e-5, rtol: 1e-5 },
      );
    });
  }
});

describe('maxPool2d vs reference, forward and gradcheck', () => {
  const cases: Array<{ name: string; x: number[]; k: P; s?: P; p?: P; o?: MaxPool2dOptions }> = [
    { name: 'k3 s2 p1 (ResNet)', x: [2, 3, 9, 8], k: 3, s: 2, p: 1 },
    { name: 'k2', x: [1, 2, 6, 7], k: 2 },
    { name: 'k [3,2] s [1,2] p [1,0]', x: [1, 2, 5, 6], k: [3, 2], s: [1, 2], p: [1, 0] },
    { name: 'k3 dilation 2 p1', x: [1, 2, 9, 9], k: 3, s: 1, p: 1, o: { dilation: 2 } },
    { name: 'k3 s2 ceilMode', x: [1, 2, 8, 10], k: 3, s: 2, o: { ceilMode: true } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await checkOp(
        `maxPool2d ${c.name}`,
        (x) => maxPool2d(x, c.k, c.s, c.p ?? 0, c.o),
        (x) => ref.maxPool2d(nd(x), c.k, c.s, c.p ?? 0, c.o as ref.MaxPool2dOptions),
        [randomArray(c.x, 8)],
        { atol: 0, rtol: 0 },
      );
    });
  }

  it('ties: the whole gradient goes to the first maximum of each window (row-major), as PyTorch', async () => {
    // 1x1x3x4 with repeated values; 2x2 windows, stride 1.
    const data = [1, 5, 5, 0, 5, 2, 5, 5, 0, 5, 1, 5];
    const x = fromArray(data, [1, 1, 3, 4], { ctx, requiresGrad: true });
    const { values, indices } = maxPool2dWithIndices(x, 2, 1);
    assertClose(await values.toArray(), [5, 5, 5, 5, 5, 5]);
    expect(Array.from(await indices.toArray())).toEqual([1, 1, 2, 4, 6, 6]);
    backward(sum(values));
    // windows (0,0)→1, (0,1)→1, (0,2)→2, (1,0)→4, (1,1)→6, (1,2)→6
    assertClose(await x.grad!.toArray(), [0, 2, 1, 0, 1, 0, 2, 0, 0, 0, 0, 0]);
    indices.dispose();
  });

  it('all-padding-free NaN-free grads are differentiable twice: d/dR of the input gradient gathers at the argmax', async () => {
    const xh = randomArray([1, 2, 7, 6], 9);
    const x = up(xh, true);
    const R = up(randomArray([1, 2, 4, 3], 10), true);
    const S = randomArray([1, 2, 7, 6], 11);
    const St = up(S);
    const L = tidy(() => {
      const y = maxPool2d(x, 3, 2, 1);
      const [gx] = grad(sum(mul(y, R)), [x], undefined, { createGraph: true });
      return sum(mul(gx!, St));
    });
    backward(L);
    // dL/dR[o] = S[argmax(o)]
    const expected: number[] = [];
    for (let plane = 0; plane < 2; plane++) {
      for (let oh = 0; oh < 4; oh++) for (let ow = 0; ow < 3; ow++) {
        let best = -Infinity;
        let at = -1;
        for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) {
          const h = oh * 2 - 1 + a;
          const w = ow * 2 - 1 + b;
          if (h < 0 || h >= 7 || w < 0 || w >= 6) continue;
          const v = Math.fround(xh.data[plane * 42 + h * 6 + w]);
          if (v > best) [best, at] = [v, h * 6 + w];
        }
        expected.push(S.data[plane * 42 + at]);
      }
    }
    assertClose(await R.grad!.toArray(), expected, { atol: 1e-6, rtol: 1e-6 });
    for (const t of [x, R, St, L]) t.dispose();
  });
});

describe('adaptiveAvgPool2d vs reference, forward and gradcheck', () => {
  const cases: Array<{ x: number[]; out: P }> = [
    { x: [2, 3, 5, 4], out: [1, 1] },
    { x: [1, 2, 7, 5], out: [3, 2] },
    { x: [1, 2, 4, 4], out: 4 },
    { x: [1, 2, 3, 4], out: [5, 7] },
    { x: [1, 1, 10, 9], out: [4, 3] },
  ];
  for (const c of cases) {
    it(`${c.x.join('x')} → ${JSON.stringify(c.out)}`, async () => {
      await checkOp(
        'adaptiveAvgPool2d',
        (x) => adaptiveAvgPool2d(x, c.out),
        (x) => ref.adaptiveAvgPool2d(nd(x), c.out),
        [randomArray(c.x, 12)],
        { atol: 1e-5, rtol: 1e-5 },
      );
    });
  }
  it('double backward: the backward op is differentiable (its vjp is the forward)', async () => {
    await checkOp(
      'adaptiveAvgPool2d input grad as a function of R',
      (R) => {
        const x = fromArray(new Float32Array(1 * 2 * 7 * 5), [1, 2, 7, 5], { ctx, requiresGrad: true });
        const [gx] = grad(sum(mul(adaptiveAvgPool2d(x, [3, 2]), R)), [x], undefined, { createGraph: true });
        return gx!;
      },
      (R) => {
        // gx = Jᵀ R with J the pooling matrix; build it column by column from the reference.
        const n = 1 * 2 * 7 * 5;
        const out = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          const e = ref.nd([1, 2, 7, 5]);
          e.data[i] = 1;
          const y = ref.adaptiveAvgPool2d(e, [3, 2]);
          out[i] = y.data.reduce((s, v, j) => s + v * R.data[j], 0);
        }
        return { shape: [1, 2, 7, 5], data: out };
      },
      [randomArray([1, 2, 3, 2], 13)],
      { atol: 1e-5, rtol: 1e-5 },
    );
  });
});

describe('pooling argument errors name the op and the shape', () => {
  const z = (shape: number[]) => fromArray(new Float32Array(shape.reduce((a, b) => a * b)), shape, { ctx });
  it('rejects bad rank, padding and empty outputs', () => {
    expect(() => maxPool2d(z([3, 5, 5]), 2)).toThrow(/maxPool2d: input \[3, 5, 5\] must be 4-D/);
    expect(() => avgPool2d(z([1, 1, 5, 5]), 2, 2, 2)).toThrow(/avgPool2d: padding \[2,2\] must be between 0 and half the kernel \[2,2\] \(input \[1, 1, 5, 5\]\)/);
    expect(() => maxPool2d(z([1, 1, 2, 2]), 3)).toThrow(/maxPool2d: input \[1, 1, 2, 2\] with kernel \[3,3\] gives an empty/);
    expect(() => adaptiveAvgPool2d(z([1, 1, 2, 2]), 0)).toThrow(/adaptiveAvgPool2d: output size/);
  });
});
