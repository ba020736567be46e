import { beforeAll, describe, expect, it } from 'vitest';
import {
  backward, broadcastTo, cast, concat, flatten, fromArray, mul, narrow, pad, permute, reshape, slice, squeeze, stack, sum,
  transpose, unsqueeze, type GpuContext, type SliceSpec,
} from '../../src/index.js';
import * as ref from '../../src/reference/index.ts';
import { Tensor } from '../../src/autograd/tensor.js';
import { stridedCopy } from '../../src/ops/kernels/strided.js';
import { assertClose, checkOp, f32, nd, randomArray, setupGpu, up } from '../helpers/gpu.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

const vals = (t: Tensor) => t.toArray().then((a) => Array.from(a));
const exact = { atol: 0, rtol: 0 };

describe('views: reshape, flatten, squeeze, unsqueeze', () => {
  it('reshape with -1, forward and gradcheck', async () => {
    for (const target of [[4, -1], [-1], [2, 3, 2], [-1, 1, 6]]) {
      await checkOp(`reshape ${target}`, (x) => reshape(x, target), (x) => ref.reshape(nd(x), target), [randomArray([3, 4], 80)], exact);
    }
    const x = up(randomArray([3, 4], 80));
    expect(x.view([2, -1]).shape).toEqual([2, 6]);
    expect(reshape(fromArray([], [0, 4], { ctx }), [-1, 2]).shape).toEqual([0, 2]);
  });

  it('reshape shares the buffer and refuses bad shapes', () => {
    const x = up(randomArray([3, 4], 81));
    expect(reshape(x, [12]).storage).toBe(x.storage);
    expect(() => reshape(x, [5, -1])).toThrow(/reshape: cannot view \[3, 4\] \(12 elements\) as \[5, -1\]/);
    expect(() => reshape(x, [-1, -1])).toThrow(/reshape: only one -1 allowed/);
    expect(() => reshape(x, [7])).toThrow(/reshape: cannot view \[3, 4\]/);
  });

  it('flatten, squeeze, unsqueeze shapes and gradients', async () => {
    const x = up(randomArray([2, 1, 3, 1], 82), true);
    expect(flatten(x).shape).toEqual([6]);
    expect(flatten(x, 1).shape).toEqual([2, 3]);
    expect(flatten(x, 0, 1).shape).toEqual([2, 3, 1]);
    expect(x.flatten(-2, -1).shape).toEqual([2, 1, 3]);
    expect(flatten(fromArray([5], [], { ctx })).shape).toEqual([1]);
    expect(squeeze(x).shape).toEqual([2, 3]);
    expect(squeeze(x, 1).shape).toEqual([2, 3, 1]);
    expect(squeeze(x, [0, -1]).shape).toEqual([2, 1, 3]); // size-2 axis 0 is kept, as torch
    expect(unsqueeze(x, 0).shape).toEqual([1, 2, 1, 3, 1]);
    expect(x.unsqueeze(-1).shape).toEqual([2, 1, 3, 1, 1]);
    await checkOp('squeeze', (t) => squeeze(t, 1), (t) => ref.squeeze(nd(t), 1), [randomArray([2, 1, 3], 83)], exact);
    await checkOp('unsqueeze', (t) => unsqueeze(t, -2), (t) => ref.unsqueeze(nd(t), -2), [randomArray([2, 3], 84)], exact);
    backward(sum(mul(unsqueeze(flatten(x), 0), 2)));
    expect(x.grad!.shape).toEqual([2, 1, 3, 1]);
    expect(await vals(x.grad!)).toEqual([2, 2, 2, 2, 2, 2]);
  });
});

describe('copies: permute, transpose, broadcastTo', () => {
  it('stridedCopy into a transposed destination (the vec4 scatter4 entry) and from a transposed source (gather4)', async () => {
    const src = randomArray([3, 8, 12], 87);
    const x = up(src);
    const y = Tensor.empty([3, 12, 8], 'f32', ctx);
    stridedCopy(x, { offset: 0, strides: [96, 12, 1] }, y, { offset: 0, strides: [96, 1, 8] }, [3, 8, 12]);
    const back = Tensor.empty([3, 8, 12], 'f32', ctx);
    stridedCopy(y, { offset: 0, strides: [96, 1, 8] }, back, { offset: 0, strides: [96, 12, 1] }, [3, 8, 12]);
    assertClose(await y.toArray(), ref.permute(f32(src), [0, 2, 1]).data, exact);
    expect(Array.from(await back.toArray())).toEqual(Array.from(Float32Array.from(src.data)));
  });

  it('permute, forward and gradcheck', async () => {
    for (const dims of [[2, 0, 1], [1, 0, 2], [-1, -2, -3], [0, 1, 2]]) {
      await checkOp(`permute ${dims}`, (x) => permute(x, dims), (x) => ref.permute(nd(x), dims), [randomArray([2, 3, 4], 85)], exact);
    }
    // inner sizes that are multiples of 4: transposes take the vec4 gather4 entry of strided_copy
    for (const dims of [[0, 2, 1], [1, 0, 2], [2, 1, 0], [1, 2, 0]]) {
      await checkOp(`permute ${dims} (vec4)`, (x) => permute(x, dims), (x) => ref.permute(nd(x), dims), [randomArray([4, 8, 12], 86)], exact);
    }
    expect(() => permute(up(randomArray([2, 3], 1)), [0, 0])).toThrow(/permute: \[0,0\] is not a permutation of the 2 axes of \[2, 3\]/);
  });

  it('four elements per copy thread where aligned (head split, aligned slice) and one where not', async () => {
    await checkOp(
      'head split',
      (x) => permute(reshape(x, [2, 5, 2, 4]), [0, 2, 1, 3]),
      (x) => ref.permute(ref.reshape(nd(x), [2, 5, 2, 4]), [0, 2, 1, 3]),
      [randomArray([2, 5, 8], 90)],
      exact,
    );
    await checkOp('aligned narrow', (x) => narrow(x, 2, 4, 4), (x) => ref.slice(nd(x), [[0, 2], [0, 5], [4, 8]]), [randomArray([2, 5, 8], 91)], exact);
    await checkOp('unaligned narrow', (x) => narrow(x, 2, 1, 4), (x) => ref.slice(nd(x), [[0, 2], [0, 5], [1, 5]]), [randomArray([2, 5, 8], 92)], exact);
  });

  it('transpose (default last two axes, explicit, negative)', async () => {
    await checkOp('transpose()', (x) => transpose(x), (x) => ref.transpose(nd(x), -2, -1), [randomArray([2, 3, 4], 86)], exact);
    await checkOp('transpose(0, 2)', (x) => x.transpose(0, 2), (x) => ref.transpose(nd(x), 0, 2), [randomArray([2, 3, 4], 87)], exact);
    await checkOp('transpose(-3, 1)', (x) => transpose(x, -3, 1), (x) => ref.transpose(nd(x), -3, 1), [randomArray([2, 3, 4], 88)], exact);
  });

  it('broadcastTo, forward and gradcheck (sums back)', async () => {
    const cases: Array<[number[], number[]]> = [[[3, 1], [2, 3, 4]], [[4], [3, 4]], [[], [2, 2]], [[2, 1, 4], [2, 3, 4]], [[3, 4], [3, 4]]];
    for (const [from, to] of cases) {
      await checkOp(`broadcastTo ${from} -> ${to}`, (x) => broadcastTo(x, to), (x) => ref.broadcastTo(nd(x), to), [randomArray(from, 89)], exact);
    }
    const x = up(randomArray([3, 1], 90));
    expect(x.expand([2, 3, 5]).shape).toEqual([2, 3, 5]);
    expect(() => broadcastTo(x, [3])).toThrow(/broadcastTo: cannot broadcast \[3, 1\] to \[3\]/);
    expect(() => broadcastTo(x, [2, 4])).toThrow(/broadcastTo: shapes \[3, 1\] and \[2, 4\] cannot be broadcast together/);
  });
});

describe('slice and narrow', () => {
  const cases: Array<{ name: string; specs: SliceSpec[] }> = [
    { name: 'steps', specs: [[0, 3, 2], null, [1, 5, 3]] },
    { name: 'negative start / end', specs: [[-2], [-3, -1], [undefined, -2]] },
    { name: 'out-of-range ends clamp, empty result', specs: [[1, 100], [5, 10]] },
    { name: 'fewer specs than axes', specs: [[1, 2]] },
    { name: 'step larger than the axis', specs: [null, null, [0, undefined, 7]] },
  ];
  for (const c of cases) {
    it(`slice ${c.name}`, async () => {
      await checkOp(`slice ${c.name}`, (x) => slice(x, c.specs), (x) => ref.slice(nd(x), c.specs), [randomArray([3, 4, 5], 91)], exact);
    });
  }

  it('narrow, negative axis, method form', async () => {
    await checkOp('narrow', (x) => narrow(x, 1, 1, 2), (x) => ref.narrow(nd(x), 1, 1, 2), [randomArray([3, 4, 5], 92)], exact);
    await checkOp('narrow -1', (x) => x.narrow(-1, 3, 2), (x) => ref.narrow(nd(x), -1, 3, 2), [randomArray([3, 4, 5], 93)], exact);
  });

  it('errors: non-positive steps, too many specs', () => {
    const x = up(randomArray([3, 4], 94));
    expect(() => slice(x, [[0, 3, -1]])).toThrow(/slice: step must be a positive integer, got -1/);
    expect(() => slice(x, [null, null, null])).toThrow(/slice: 3 slice specs for a tensor of shape \[3, 4\]/);
  });
});

describe('concat and stack', () => {
  for (const axis of [0, 1, 2, -1]) {
    it(`concat of 3 inputs along axis ${axis}`, async () => {
      const a = axis < 0 ? axis + 3 : axis;
      const shapes = [1, 3, 2].map((k) => [2, 3, 2].map((d, i) => (i === a ? k : d)));
      await checkOp(
        `concat axis ${axis}`,
        (...xs) => concat(xs, axis),
        (...xs) => ref.concat(xs.map(nd), axis),
        shapes.map((s, i) => randomArray(s, 95 + i)),
        exact,
      );
    });
  }

  for (const axis of [0, 1, -1]) {
    it(`stack of 3 inputs along axis ${axis}`, async () => {
      await checkOp(
        `stack axis ${axis}`,
        (...xs) => stack(xs, axis),
        (...xs) => ref.stack(xs.map(nd), axis),
        [0, 1, 2].map((i) => randomArray([2, 3], 98 + i)),
        exact,
      );
    });
  }

  it('only inputs that require grad get gradients; errors name the shapes', async () => {
    const a = up(randomArray([2, 2], 101), true);
    const b = up(randomArray([1, 2], 102));
    backward(sum(concat([a, b], 0)));
    expect(await vals(a.grad!)).toEqual([1, 1, 1, 1]);
    expect(b.grad).toBeNull();
    expect(() => concat([a, up(randomArray([2, 3], 1))], 0)).toThrow(/concat: shapes \[2, 2\], \[2, 3\] differ outside axis 0/);
    expect(() => stack([a, b])).toThrow(/stack: shapes \[2, 2\], \[1, 2\] differ/);
    expect(() => concat([])).toThrow(/concat: no tensors given/);
  });
});

describe('pad (F.pad order)', () => {
  const cases: Array<{ name: string; pads: number[]; value?: number }> = [
    { name: 'last axis', pads: [1, 2] },
    { name: 'two axes, value 0.5', pads: [1, 0, 2, 1], value: 0.5 },
    { name: 'all three axes', pads: [0, 1, 1, 0, 2, 1] },
    { name: 'negative crop', pads: [-1, 1, 0, -2] },
    { name: 'crop only', pads: [-1, -2, -1, 0] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await checkOp(`pad ${c.name}`, (x) => pad(x, c.pads, c.value), (x) => ref.pad(nd(x), c.pads, c.value), [randomArray([2, 3, 4], 103)], exact);
    });
  }
  it('errors', () => {
    const x = up(randomArray([2, 3], 104));
    expect(() => pad(x, [1])).toThrow(/pad: 1 pad values for a tensor of shape \[2, 3\]/);
    expect(() => pad(x, [-2, -2])).toThrow(/pad: padding \[-2,-2\] crops \[2, 3\] below zero/);
  });
});

describe('cast and integer tensors', () => {
  it('f32 -> i32 truncates toward zero; i32 -> f32', async () => {
    const x = fromArray([1.5, -2.7, 3, -0.5, 1e6 + 0.25], [5], { ctx });
    const i = cast(x, 'i32');
    expect(i.dtype).toBe('i32');
    expect(await vals(i)).toEqual([1, -2, 3, 0, 1000000]);
    const f = i.float();
    expect(f.dtype).toBe('f32');
    expect(await vals(f)).toEqual([1, -2, 3, 0, 1000000]);
    expect(await vals(x.int())).toEqual([1, -2, 3, 0, 1000000]);
    expect(cast(x, 'f32').storage).toBe(x.storage); // same dtype: a view
  });

  it('f16 round trip matches the CPU conversion; gradients flow through float casts', async (t) => {
    if (!ctx.f16) t.skip();
    const data = [0.1, 1, -2.5, 65504, 1e-8, 3.14159, -1e-5, 1000.7];
    const x = fromArray(data, [8], { ctx, requiresGrad: true });
    const h = cast(x, 'f16');
    expect(h.dtype).toBe('f16');
    const cpu = fromArray(data, [8], { ctx, dtype: 'f16' });
    const back = await h.toArray();
    expect(Array.from(back)).toEqual(Array.from(await cpu.toArray()));
    assertClose(back, data, { atol: 1e-7, rtol: 1e-3 });
    const odd = cast(fromArray([1, 2, 3], [3], { ctx }), 'f16'); // odd count: the last pair is half-filled
    expect(await vals(odd.half().float())).toEqual([1, 2, 3]);
    const w = fromArray([1, 2, 0.5, -1, 0.25, 4, -8, 3], [8], { ctx });
    backward(sum(mul(h.float(), w)));
    expect(await vals(x.grad!)).toEqual([1, 2, 0.5, -1, 0.25, 4, -8, 3]);
    expect(() => permute(h, [0])).toThrow(/permute needs f32 or i32 tensors; cast f16 with \.float\(\) first/);
  });

  it('casts to i32 cut the graph; i32 tensors cannot require grad', () => {
    const x = fromArray([1, 2], [2], { ctx, requiresGrad: true });
    expect(cast(x, 'i32').requiresGrad).toBe(false);
    expect(() => fromArray(new Int32Array([1]), [1], { ctx }).requiresGrad_()).toThrow(/only floating-point tensors can require gradients/);
  });

  it('i32 tensors through permute, slice, concat, broadcastTo', async () => {
    const x = fromArray(new Int32Array([1, 2, 3, 4, 5, 6]), [2, 3], { ctx });
    expect(await vals(permute(x, [1, 0]))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(await vals(slice(x, [null, [0, 3, 2]]))).toEqual([1, 3, 4, 6]);
    const c = concat([x, x], 0);
    expect(c.dtype).toBe('i32');
    expect(await vals(c)).toEqual([1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
    expect(await vals(broadcastTo(fromArray(new Int32Array([7, -8]), [2, 1], { ctx }), [2, 2]))).toEqual([7, 7, -8, -8]);
    const big = fromArray(new Int32Array([2 ** 31 - 1, -(2 ** 31)]), [2], { ctx });
    expect(await vals(permute(big, [0]))).toEqual([2 ** 31 - 1, -(2 ** 31)]); // bit-exact copies
  });
});

describe('disposed inputs', () => {
  it('shape ops name the op', async () => {
    const x = up(randomArray([2, 3], 105));
    x.dispose();
    expect(() => reshape(x, [6])).toThrow(/reshape: tensor #\d+ of shape \[2, 3\] was disposed/);
    expect(() => permute(x, [1, 0])).toThrow(/permute: tensor #\d+ of shape \[2, 3\] was disposed/);
    expect(() => concat([x])).toThrow(/concat: tensor #\d+ of shape \[2, 3\] was disposed/);
    expect(() => cast(x, 'i32')).toThrow(/cast: tensor #\d+ of shape \[2, 3\] was disposed/);
    await expect(x.toArray()).rejects.toThrow(/toArray: tensor #\d+ of shape \[2, 3\] was disposed/);
  });
});
