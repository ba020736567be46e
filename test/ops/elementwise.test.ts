import { beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../../src/index.js';
import {
  add, backward, clamp, div, eq, fromArray, ge, gt, le, lt, maximum, minimum, mul, ne, pow, sub, sum, tensor, where,
  type GpuContext, type HostArray, type Tensor,
} from '../../src/index.js';
import * as ref from '../../src/reference/index.ts';
import { assertClose, checkOp, nd, randomArray, setupGpu, up } from '../helpers/gpu.js';
import { coalesceDims } from '../../src/ops/util.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

const vals = (t: Tensor) => t.toArray().then((a) => Array.from(a));

/** Moves values away from 0 (|v| >= 0.2) so kinks (abs, relu, sign) stay out of the finite differences. */
function awayFromZero(a: HostArray): HostArray {
  return { shape: a.shape, data: a.data.map((v) => (v >= 0 ? v + 0.2 : v - 0.2)) };
}

type UnaryName = 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'sin' | 'cos' | 'tanh' | 'sigmoid' | 'relu' | 'sign' | 'square' | 'reciprocal';
const UNARY: Array<{ name: UnaryName; input: (shape: number[], seed: number) => HostArray; tol?: number }> = [
  { name: 'neg', input: (s, k) => randomArray(s, k, -2, 2) },
  { name: 'exp', input: (s, k) => randomArray(s, k, -2, 2) },
  { name: 'log', input: (s, k) => randomArray(s, k, 0.3, 3) },
  { name: 'sqrt', input: (s, k) => randomArray(s, k, 0.3, 3) },
  { name: 'rsqrt', input: (s, k) => randomArray(s, k, 0.3, 3) },
  { name: 'abs', input: (s, k) => awayFromZero(randomArray(s, k, -2, 2)) },
  { name: 'sin', input: (s, k) => randomArray(s, k, -3, 3) },
  { name: 'cos', input: (s, k) => randomArray(s, k, -3, 3) },
  { name: 'tanh', input: (s, k) => randomArray(s, k, -2, 2) },
  { name: 'sigmoid', input: (s, k) => randomArray(s, k, -4, 4) },
  { name: 'relu', input: (s, k) => awayFromZero(randomArray(s, k, -2, 2)) },
  { name: 'sign', input: (s, k) => awayFromZero(randomArray(s, k, -2, 2)) },
  { name: 'square', input: (s, k) => randomArray(s, k, -2, 2) },
  { name: 'reciprocal', input: (s, k) => awayFromZero(randomArray(s, k, -2, 2)) },
];
const SHAPES: number[][] = [[7, 37], [1, 3, 1], [], [3, 4, 22]]; // odd size (259, several workgroups), size-1 dims, 0-d, four per thread (264)

describe('unary ops vs reference, forward and gradcheck', () => {
  for (const u of UNARY) {
    it(u.name, async () => {
      const gpuFn = ops[u.name] as (x: Tensor) => Tensor;
      const refFn = ref[u.name] as (x: ref.NDArray) => ref.NDArray;
      for (const [k, shape] of SHAPES.entries()) {
        await checkOp(`${u.name} ${JSON.stringify(shape)}`, gpuFn, (x) => refFn(nd(x)), [u.input(shape, 10 + k)], { atol: 2e-6, rtol: 2e-6 });
      }
      // the method form
      const x = up(u.input([5], 3));
      const m = (x as unknown as Record<UnaryName, () => Tensor>)[u.name]();
      assertClose(await m.toArray(), await gpuFn(x).toArray(), { atol: 0, rtol: 0 });
    });
  }

  it('the gradient of sign is zero (and flows through)', async () => {
    const x = up(randomArray([6], 4), true);
    backward(sum(ops.sign(x)));
    expect(await vals(x.grad!)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('domain edges follow IEEE / PyTorch', async () => {
    const x = fromArray([-1, 0, -0, 4], [4], { ctx });
    const exact = { atol: 0, rtol: 1e-6 };
    assertClose(await ops.log(x).toArray(), [NaN, -Infinity, -Infinity, Math.log(4)], exact, 'log');
    assertClose(await ops.sqrt(x).toArray(), [NaN, 0, 0, 2], exact, 'sqrt');
    assertClose(await ops.rsqrt(x).toArray(), [NaN, Infinity, -Infinity, 0.5], exact, 'rsqrt');
    assertClose(await ops.sign(x).toArray(), [-1, 0, 0, 1], exact, 'sign');
    assertClose(await ops.reciprocal(x).toArray(), [-1, Infinity, -Infinity, 0.25], exact, 'reciprocal');
    assertClose(await ops.sigmoid(fromArray([-200, 200], [2], { ctx })).toArray(), [0, 1], exact, 'sigmoid');
    assertClose(await ops.tanh(fromArray([-200, 200], [2], { ctx })).toArray(), [-1, 1], exact, 'tanh');
    assertClose(await ops.exp(fromArray([-200, 200], [2], { ctx })).toArray(), [0, Infinity], exact, 'exp');
  });

  it('NaN propagates through relu, clamp, maximum and minimum (as PyTorch)', async () => {
    const x = fromArray([NaN, -1, 2], [3], { ctx });
    const y = fromArray([0, NaN, 1], [3], { ctx });
    const exact = { atol: 0, rtol: 0 };
    assertClose(await ops.relu(x).toArray(), [NaN, 0, 2], exact, 'relu');
    assertClose(await clamp(x, -0.5, 0.5).toArray(), [NaN, -0.5, 0.5], exact, 'clamp');
    assertClose(await maximum(x, y).toArray(), [NaN, NaN, 2], exact, 'maximum');
    assertClose(await minimum(x, y).toArray(), [NaN, NaN, 1], exact, 'minimum');
  });
});

describe('clamp', () => {
  // values in bands away from the clamp edges
  const x = () => ({ shape: [4, 9], data: randomArray([4, 9], 5, -2, 2).data.map((v) => (Math.abs(Math.abs(v) - 0.5) < 0.05 ? v * 1.3 : v)) });
  for (const [lo, hi] of [[-0.5, 0.5], [undefined, 0.5], [-0.5, undefined], [undefined, undefined]] as const) {
    it(`clamp(x, ${lo}, ${hi})`, async () => {
      await checkOp(`clamp ${lo} ${hi}`, (t) => clamp(t, lo, hi), (t) => ref.clamp(nd(t), lo, hi), [x()], { atol: 0, rtol: 0 });
    });
  }
  it('rejects min > max', () => {
    expect(() => clamp(up(randomArray([2], 1)), 1, 0)).toThrow(/clamp: min 1 is greater than max 0/);
  });
});

type BinaryName = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum';
const BINARY: Array<{ name: BinaryName; a: [number, number]; b: [number, number] }> = [
  { name: 'add', a: [-2, 2], b: [-2, 2] },
  { name: 'sub', a: [-2, 2], b: [-2, 2] },
  { name: 'mul', a: [-2, 2], b: [-2, 2] },
  { name: 'div', a: [-2, 2], b: [0.5, 2] },
  { name: 'pow', a: [0.3, 2], b: [-2, 2] },
  { name: 'maximum', a: [-2, 2], b: [-2, 2] },
  { name: 'minimum', a: [-2, 2], b: [-2, 2] },
];
const PAIRS: Array<[number[], number[]]> = [
  [[3, 5], [3, 5]], // same shape (contiguous fast path)
  [[2, 1, 4], [3, 1]], // both broadcast → [2, 3, 4]
  [[], [4]], // 0-d with 1-D
  [[5, 1], [1]], // size-1 dims
  // four elements per thread (main4): same shape; a bias row; b splat along the innermost axis
  [[2, 4], [2, 4]],
  [[3, 8], [8]],
  [[2, 3, 4], [3, 1]],
  [[2, 6], [6]], // 12 elements, but rows of 6: one per thread
];

describe('binary ops vs reference, broadcasting, forward and gradcheck', () => {
  for (const b of BINARY) {
    it(b.name, async () => {
      const gpuFn = ops[b.name] as (x: Tensor, y: Tensor) => Tensor;
      const refFn = ref[b.name] as (x: ref.NDArray, y: ref.NDArray) => ref.NDArray;
      for (const [k, [sa, sb]] of PAIRS.entries()) {
        const ia = randomArray(sa, 20 + k, ...b.a);
        const ib = randomArray(sb, 30 + k, ...b.b);
        await checkOp(`${b.name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`, gpuFn, (x, y) => refFn(nd(x), nd(y)), [ia, ib], { atol: 2e-6, rtol: 2e-6 });
      }
    });
  }

  it('scalar operands on either side: add(x, 2), sub(3, x), mul(x, -1.5), div(2, x), pow(x, 2), pow(2, x), maximum(x, 0.3)', async () => {
    const cases: Array<[string, (x: Tensor) => Tensor, (x: ref.NDArray) => ref.NDArray]> = [
      ['add(x, 2)', (x) => add(x, 2), (x) => ref.add(x, 2)],
      ['add(2, x)', (x) => add(2, x), (x) => ref.add(2, x)],
      ['sub(3, x)', (x) => sub(3, x), (x) => ref.sub(3, x)],
      ['sub(x, 3)', (x) => sub(x, 3), (x) => ref.sub(x, 3)],
      ['mul(x, -1.5)', (x) => mul(x, -1.5), (x) => ref.mul(x, -1.5)],
      ['div(2, x)', (x) => div(2, x), (x) => ref.div(2, x)],
      ['div(x, 4)', (x) => div(x, 4), (x) => ref.div(x, 4)],
      ['pow(x, 2)', (x) => pow(x, 2), (x) => ref.pow(x, 2)],
      ['pow(2, x)', (x) => pow(2, x), (x) => ref.pow(2, x)],
      ['maximum(x, 0.3)', (x) => maximum(x, 0.3), (x) => ref.maximum(x, 0.3)],
      ['minimum(-0.3, x)', (x) => minimum(-0.3, x), (x) => ref.minimum(-0.3, x)],
    ];
    const input = { shape: [3, 4], data: randomArray([3, 4], 40, 0.5, 2).data.map((v, i) => (i % 3 ? v : -v)) };
    for (const [label, g, r] of cases) {
      const data = label.startsWith('div(2') ? input.data.map((v) => (Math.abs(v) < 0.5 ? 0.7 : v)) : input.data;
      await checkOp(label, g, (x) => r(nd(x)), [{ shape: input.shape, data }], { atol: 2e-6, rtol: 2e-6 });
    }
    const x = up(randomArray([2], 41));
    assertClose(await x.add(2).toArray(), await add(x, 2).toArray(), { atol: 0, rtol: 0 });
    expect(() => add(2 as unknown as Tensor, 3)).toThrow(/add: at least one operand must be a tensor/);
  });

  it('pow with negative bases and integral exponents, 0^0, 0^-1', async () => {
    const a = fromArray([-2, -2, -0.5, -3, 0, 0, -8, 2], [8], { ctx });
    const b = fromArray([3, 2, -3, 0, 0, -1, 1 / 3, 0.5], [8], { ctx });
    const expected = [-8, 4, -8, 1, 1, Infinity, NaN, Math.SQRT2];
    assertClose(await pow(a, b).toArray(), expected, { atol: 0, rtol: 1e-6 });
    // gradient with respect to a negative base (integral exponents only), as PyTorch
    await checkOp(
      'pow negative base',
      (x, y) => pow(x, y),
      (x, y) => ref.pow(nd(x), nd(y)),
      [randomArray([2, 3], 42, -2, -0.5), { shape: [2, 3], data: Float64Array.from([1, 2, 3, -1, -2, 4]) }],
      { atol: 1e-6, rtol: 1e-6, wrt: [0] },
    );
  });

  it('maximum / minimum ties split the gradient equally (as PyTorch)', async () => {
    for (const [op, win] of [[maximum, [0.5, 1, 0.5, 0]], [minimum, [0.5, 0, 0.5, 1]]] as const) {
      const a = fromArray([1, 2, 3, -1], [4], { ctx, requiresGrad: true });
      const b = fromArray([1, 0, 3, 0], [4], { ctx, requiresGrad: true });
      backward(sum(op(a, b)));
      expect(await vals(a.grad!)).toEqual(win);
      expect(await vals(b.grad!)).toEqual(win.map((v) => 1 - v));
    }
  });

  it('broadcast gradients sum back to each operand shape', async () => {
    const a = up(randomArray([2, 1, 4], 43), true);
    const b = up(randomArray([3, 1], 44), true);
    backward(sum(mul(a, b)));
    expect(a.grad!.shape).toEqual([2, 1, 4]);
    expect(b.grad!.shape).toEqual([3, 1]);
  });
});

describe('comparisons (no gradient)', () => {
  const cmp = { eq, ne, lt, le, gt, ge } as const;
  for (const [name, f] of Object.entries(cmp)) {
    it(name, async () => {
      // [2, 1, 4] vs [3, 1] with ties
      const ia = { shape: [2, 1, 4], data: Float64Array.from([0, 1, 2, 3, -1, 0, 1, 2]) };
      const ib = { shape: [3, 1], data: Float64Array.from([0, 1, 2]) };
      const refFn = ref[name as keyof typeof cmp] as (a: ref.NDArray, b: ref.NDArray) => ref.NDArray;
      await checkOp(name, f, (a, b) => refFn(nd(a), nd(b)), [ia, ib], { atol: 0, rtol: 0, grad: false });
      const x = up(ia, true);
      const y = f(x, 1);
      expect(y.requiresGrad).toBe(false);
      assertClose(await y.toArray(), refFn(nd(ia), ref.scalar(1)).data, { atol: 0, rtol: 0 });
      const m = (x as unknown as Record<string, (b: number) => Tensor>)[name](1);
      assertClose(await m.toArray(), await y.toArray(), { atol: 0, rtol: 0 });
    });
  }
});

describe('where', () => {
  it('broadcasts cond [2, 1, 4], a [3, 1], b [4]; gradients to a and b', async () => {
    const cond = { shape: [2, 1, 4], data: Float64Array.from([1, 0, 0, 1, 0, 1, 1, 1]) };
    await checkOp(
      'where',
      (c, a, b) => where(c, a, b),
      (c, a, b) => ref.where(nd(c), nd(a), nd(b)),
      [cond, randomArray([3, 1], 50), randomArray([4], 51)],
      { atol: 0, rtol: 0, wrt: [1, 2] },
    );
  });

  it('scalar branches', async () => {
    const c = fromArray([1, 0, 2, -0.5], [4], { ctx });
    const x = fromArray([5, 6, 7, 8], [4], { ctx, requiresGrad: true });
    expect(await vals(where(c, x, 0))).toEqual([5, 0, 7, 8]);
    expect(await vals(where(c, -1, x))).toEqual([-1, 6, -1, -1]);
    backward(sum(where(c, x, 0)));
    expect(await vals(x.grad!)).toEqual([1, 0, 1, 1]);
  });
});

describe('errors', () => {
  it('a shape mismatch names the op and both shapes', () => {
    const a = up(randomArray([2, 3], 1));
    const b = up(randomArray([4], 2));
    expect(() => add(a, b)).toThrow('cflens: add: shapes [2, 3] and [4] cannot be broadcast together');
    expect(() => mul(b, a)).toThrow(/cflens: mul: shapes \[4\] and \[2, 3\]/);
    expect(() => where(up(randomArray([5], 3)), a, 0)).toThrow(/cflens: where: shapes \[5\] and \[2, 3\]/);
  });

  it('non-f32 inputs are refused with a hint', () => {
    const i = fromArray(new Int32Array([1, 2]), [2], { ctx });
    expect(() => add(i, 1)).toThrow(/add needs f32 tensors, got i32 of shape \[2\]; cast with \.float\(\)/);
    expect(() => ops.exp(i)).toThrow(/exp needs f32 tensors/);
  });

  it('a disposed tensor throws a clear error naming the op', () => {
    const a = tensor([1, 2, 3]);
    a.name = 'weights';
    a.dispose();
    expect(() => ops.exp(a)).toThrow(/cflens: exp: tensor #\d+ \(weights\) of shape \[3\] was disposed/);
    expect(() => add(a, 1)).toThrow(/cflens: add: tensor #\d+ \(weights\) of shape \[3\] was disposed/);
    expect(() => a.buffer).toThrow(/was disposed/);
    a.dispose(); // twice is fine
  });
});

describe('coalesceDims (fewer index decodes per element)', () => {
  it('merges dimensions every operand walks as one, keeps the others, drops size 1', () => {
    // a scalar broadcast over [2, 3, 4]: one dimension
    expect(coalesceDims([2, 3, 4], [[12, 4, 1], [0, 0, 0]])).toEqual({ shape: [24], strides: [[1], [0]] });
    // a bias [3, 1] over [2, 3, 4]: the batch and channel axes cannot merge with the broadcast one
    expect(coalesceDims([2, 3, 4], [[12, 4, 1], [0, 1, 0]])).toEqual({ shape: [2, 3, 4], strides: [[12, 4, 1], [0, 1, 0]] });
    // a row vector [4] over [2, 3, 4]: leading axes merge (both broadcast in b, contiguous in a)
    expect(coalesceDims([2, 3, 4], [[12, 4, 1], [0, 0, 1]])).toEqual({ shape: [6, 4], strides: [[4, 1], [0, 1]] });
    // size-1 axes vanish; an all-ones shape is one element
    expect(coalesceDims([1, 5, 1], [[5, 1, 1], [0, 1, 0]])).toEqual({ shape: [5], strides: [[1], [1]] });
    expect(coalesceDims([1, 1], [[1, 1], [0, 0]])).toEqual({ shape: [1], strides: [[0], [0]] });
    // a transposed view stays two dimensions
    expect(coalesceDims([3, 4], [[1, 3], [4, 1]])).toEqual({ shape: [3, 4], strides: [[1, 3], [4, 1]] });
  });
});
