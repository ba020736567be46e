import { beforeAll, describe, expect, it } from 'vitest';
import {
  backward, fromArray, grad, withFlags, logSoftmax, mul, softmax, sum, tidy, type GpuContext, type Tensor,
} from '../../src/index.js';
import * as ref from '../../src/reference/index.ts';
import { assertClose, checkOp, f32, nd, randomArray, setupGpu, up } from '../helpers/gpu.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

// Rows of <= 32 elements take the thread-per-row path, longer ones the workgroup-per-row path.
const cases: Array<{ name: string; shape: number[]; axis: number }> = [
  { name: '[3, 5] last axis (thread per row)', shape: [3, 5], axis: -1 },
  { name: '[2, 3, 4] axis 0 (strided rows)', shape: [2, 3, 4], axis: 0 },
  { name: '[2, 3, 4] axis 1', shape: [2, 3, 4], axis: 1 },
  { name: '[2, 40, 3] axis 1 (workgroup per row, strided)', shape: [2, 40, 3], axis: 1 },
  { name: '[3, 70] last axis (workgroup per row, odd length)', shape: [3, 70], axis: 1 },
  { name: '[4, 1] size-1 axis', shape: [4, 1], axis: -1 },
  { name: '[7] 1-D', shape: [7], axis: 0 },
];

describe('softmax / logSoftmax vs reference, forward and gradcheck', () => {
  for (const c of cases) {
    it(`softmax ${c.name}`, async () => {
      await checkOp(
        `softmax ${c.name}`,
        (x) => softmax(x, c.axis),
        (x) => ref.softmax(nd(x), c.axis),
        [randomArray(c.shape, 3, -3, 3)],
        { atol: 1e-6, rtol: 1e-5 },
      );
    });
    it(`logSoftmax ${c.name}`, async () => {
      await checkOp(
        `logSoftmax ${c.name}`,
        (x) => logSoftmax(x, c.axis),
        (x) => ref.logSoftmax(nd(x), c.axis),
        [randomArray(c.shape, 4, -3, 3)],
        { atol: 1e-5, rtol: 1e-5 },
      );
    });
  }

  for (const kernel of ['thread', 'workgroup'] as const) {
    for (const c of [cases[2], cases[3]]) {
      it(`softmax and logSoftmax ${c.name}, forced ${kernel} per row`, () => withFlags({ 'softmax.rowKernel': kernel }, async () => {
        await checkOp(
          `softmax ${c.name} ${kernel}`,
          (x) => softmax(x, c.axis),
          (x) => ref.softmax(nd(x), c.axis),
          [randomArray(c.shape, 6, -3, 3)],
          { atol: 1e-6, rtol: 1e-5 },
        );
        await checkOp(
          `logSoftmax ${c.name} ${kernel}`,
          (x) => logSoftmax(x, c.axis),
          (x) => ref.logSoftmax(nd(x), c.axis),
          [randomArray(c.shape, 7, -3, 3)],
          { atol: 1e-5, rtol: 1e-5 },
        );
      }));
    }
  }

  it('defaults to the last axis and works as a method', async () => {
    const a = randomArray([2, 3, 6], 5, -2, 2);
    const x = up(a);
    assertClose(await softmax(x).toArray(), ref.softmax(f32(a), -1).data, { atol: 1e-6 });
    assertClose(await x.logSoftmax(1).toArray(), ref.logSoftmax(f32(a), 1).data, { atol: 1e-5 });
  });

  it('0-d input: softmax 1, logSoftmax 0', async () => {
    const x = fromArray([3.5], [], { ctx });
    const y = softmax(x);
    expect(y.shape).toEqual([]);
    expect(await y.item()).toBe(1);
    expect(await logSoftmax(x, 0).item()).toBe(0);
  });

  it('empty tensors pass through', async () => {
    const x = fromArray([], [0, 4], { ctx });
    expect(softmax(x, 1).shape).toEqual([0, 4]);
  });
});

describe('numerical stability', () => {
  it('large offsets (±1000, where exp overflows) are max-subtracted', async () => {
    const a = randomArray([3, 50], 6, -5, 5);
    a.data.forEach((v, i) => (a.data[i] = v + (i < 50 ? 1000 : i < 100 ? -1000 : 80)));
    const x = up(a);
    for (const [y, r] of [[softmax(x), ref.softmax(f32(a))], [logSoftmax(x), ref.logSoftmax(f32(a))]] as const) {
      const got = await y.toArray();
      expect(got.every(Number.isFinite)).toBe(true);
      assertClose(got, r.data, { atol: 1e-5, rtol: 1e-5 });
    }
  });

  it('-inf entries (masking) get probability 0; an all -inf row gives NaN as PyTorch', async () => {
    for (const n of [4, 40]) {
      const data = new Float32Array(2 * n).map((_, i) => (i % n) * 0.1);
      data[0] = -Infinity; // first element masked: the running max starts at -inf
      data[n - 1] = -Infinity;
      for (let j = 0; j < n; j++) data[n + j] = -Infinity;
      const x = fromArray(data, [2, n], { ctx });
      const expected = ref.softmax({ shape: [2, n], data: Float64Array.from(data) });
      const got = await softmax(x).toArray();
      assertClose(got.slice(0, n), expected.data.slice(0, n), { atol: 1e-6 }, `n=${n}`);
      expect(got[0]).toBe(0);
      expect(got.slice(n).every(Number.isNaN)).toBe(true);
      const ls = await logSoftmax(x).toArray();
      expect(ls[0]).toBe(-Infinity);
      assertClose(ls.slice(1, n - 1), ref.logSoftmax({ shape: [2, n], data: Float64Array.from(data) }).data.slice(1, n - 1), { atol: 1e-5 });
    }
  });

  it('a NaN or +inf poisons only its own row (as the reference / PyTorch)', async () => {
    for (const n of [5, 50]) {
      for (const bad of [NaN, Infinity]) {
        const data = new Float32Array(2 * n).map((_, i) => Math.sin(i));
        data[n + 3] = bad;
        const x = fromArray(data, [2, n], { ctx });
        for (const y of [softmax(x), logSoftmax(x)]) {
          const got = await y.toArray();
          expect(got.slice(0, n).every(Number.isFinite), `n=${n} ${bad}`).toBe(true);
          expect(got.slice(n).every(Number.isNaN), `n=${n} ${bad}`).toBe(true);
        }
        expect(ref.softmax({ shape: [2, n], data: Float64Array.from(data) }).data.slice(n).every(Number.isNaN)).toBe(true);
      }
    }
  });
});

describe('large shapes', () => {
  it('one row of 5000 elements', async () => {
    const a = randomArray([1, 5000], 7, -10, 10);
    const x = up(a);
    assertClose(await softmax(x).toArray(), ref.softmax(f32(a)).data, { atol: 1e-8, rtol: 1e-4 });
    assertClose(await logSoftmax(x).toArray(), ref.logSoftmax(f32(a)).data, { atol: 2e-5, rtol: 1e-5 });
  });

  it('70000 rows of 3 (thread per row) and 66000 rows of 33 (2-D workgroup grid)', async () => {
    for (const shape of [[70000, 3], [66000, 33]]) {
      const a = randomArray(shape, 8, -4, 4);
      const x = up(a);
      const y = softmax(x);
      assertClose(await y.toArray(), ref.softmax(f32(a)).data, { atol: 1e-6, rtol: 1e-5 }, `${shape}`);
      x.dispose();
      y.dispose();
    }
  });
});

describe('backward', () => {
  it('the fused backward kernels equal the composed (createGraph) vjps', async () => {
    for (const [shape, axis] of [[[3, 5], 1], [[2, 40, 3], 1], [[4, 3, 2], 0]] as const) {
      for (const op of [softmax, logSoftmax]) {
        const a = randomArray(shape, 9, -2, 2);
        const w = up(randomArray(shape, 10));
        const x = up(a, true);
        const fused = grad(sum(mul(op(x, axis), w)), [x])[0]!;
        const composed = grad(sum(mul(op(x, axis), w)), [x], undefined, { createGraph: true })[0]!;
        assertClose(await fused.toArray(), await composed.toArray(), { atol: 1e-6, rtol: 1e-5 }, `${op.name} ${shape} axis ${axis}`);
      }
    }
  });

  it('rows sum to 1 and softmax gradients sum to 0 along the axis', async () => {
    const x = up(randomArray([4, 40], 11, -3, 3), true);
    const y = softmax(x, 1);
    const s = await sum(y, 1).toArray();
    assertClose(s, [1, 1, 1, 1], { atol: 1e-6 });
    backward(y, up(randomArray([4, 40], 12)));
    assertClose(await sum(x.grad!, 1).toArray(), [0, 0, 0, 0], { atol: 1e-6 });
  });

  // d/dx of <w, dL/dx> where L = <v, op(x)>: checks the createGraph vjps (second order) numerically.
  const cpuVjp = (op: 'softmax' | 'logSoftmax', x: ref.NDArray, v: ref.NDArray, axis: number): ref.NDArray => {
    const y = op === 'softmax' ? ref.softmax(x, axis) : ref.logSoftmax(x, axis);
    if (op === 'softmax') {
      const s = ref.sum(ref.mul(v, y), axis, { keepdim: true });
      return ref.mul(y, ref.sub(v, s));
    }
    return ref.sub(v, ref.mul(ref.exp(y), ref.sum(v, axis, { keepdim: true })));
  };
  for (const op of ['softmax', 'logSoftmax'] as const) {
    it(`second-order gradcheck of ${op}`, async () => {
      const shape = [3, 4];
      const v = randomArray(shape, 13);
      const vRef = f32(v);
      await checkOp(
        `${op} grad-of-grad`,
        (x0) => tidy(() => {
          // checkOp's forward pass gives a tensor without requiresGrad; grad() needs one.
          const x = x0.requiresGrad ? x0 : x0.detach().requiresGrad_();
          const vt = up(v);
          const y = op === 'softmax' ? softmax(x, 1) : logSoftmax(x, 1);
          return grad(sum(mul(y, vt)), [x], undefined, { createGraph: true })[0] as Tensor;
        }),
        (x) => cpuVjp(op, nd(x), vRef, 1),
        [randomArray(shape, 14, -2, 2)],
        { atol: 1e-6, rtol: 1e-5 },
      );
    });
  }
});

describe('errors', () => {
  it('names the op for a bad axis, an i32 input, a disposed input', () => {
    const x = fromArray([1, 2, 3], [3], { ctx });
    expect(() => softmax(x, 1)).toThrow(/softmax: axis 1 is out of range/);
    expect(() => logSoftmax(fromArray(new Int32Array([1, 2]), [2], { ctx }))).toThrow(/logSoftmax needs f32/);
    x.dispose();
    expect(() => softmax(x)).toThrow(/softmax: tensor #\d+ of shape \[3\] was disposed/);
  });
});
