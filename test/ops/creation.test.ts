import { beforeAll, describe, expect, it } from 'vitest';
import {
  arange, fromArray, full, fullLike, manualSeed, ones, onesLike, rand, randn, tensor, zeros, zerosLike,
  type GpuContext, type Tensor,
} from '../../src/index.js';
import { setupGpu } from '../helpers/gpu.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

const vals = (t: Tensor) => t.toArray().then((a) => Array.from(a));

describe('constant constructors', () => {
  it('zeros / ones / full and their *Like forms', async () => {
    expect(await vals(zeros([2, 3]))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(await vals(ones([3]))).toEqual([1, 1, 1]);
    const f = full([2, 2], -2.5);
    expect(f.shape).toEqual([2, 2]);
    expect(f.dtype).toBe('f32');
    expect(await vals(f)).toEqual([-2.5, -2.5, -2.5, -2.5]);
    expect(await vals(zerosLike(f))).toEqual([0, 0, 0, 0]);
    expect(await vals(onesLike(f))).toEqual([1, 1, 1, 1]);
    expect(await vals(fullLike(f, 7))).toEqual([7, 7, 7, 7]);
    expect(await full([], 3).item()).toBe(3);
    expect(full([0, 5], 1).size).toBe(0);
    expect(await vals(full([3], Infinity))).toEqual([Infinity, Infinity, Infinity]);
  });

  it('a large fill spreads over a 2-D grid', async () => {
    const n = 256 * 65535 + 1000;
    const t = full([n], 0.5);
    const a = await t.toArray();
    expect(a[0]).toBe(0.5);
    expect(a[n - 1]).toBe(0.5);
    expect(a[256 * 65535 + 7]).toBe(0.5);
    t.dispose();
  });

  it('requiresGrad option', () => {
    expect(zeros([2], { requiresGrad: true }).requiresGrad).toBe(true);
    expect(ones([2]).requiresGrad).toBe(false);
  });
});

describe('arange', () => {
  it('like numpy.arange', async () => {
    expect(await vals(arange(5))).toEqual([0, 1, 2, 3, 4]);
    expect(await vals(arange(2, 6))).toEqual([2, 3, 4, 5]);
    expect(await vals(arange(0, 1, 0.25))).toEqual([0, 0.25, 0.5, 0.75]);
    expect(await vals(arange(5, 0, -2))).toEqual([5, 3, 1]);
    expect(await vals(arange(-1, 1.1, 0.5))).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(arange(3, 3).shape).toEqual([0]);
    expect(arange(3, 1).shape).toEqual([0]);
    expect(() => arange(0, 1, 0)).toThrow(/arange: step must not be 0/);
  });
});

describe('fromArray and tensor', () => {
  it('dtypes follow the data: Float32Array / number[] -> f32, Int32Array -> i32, dtype f16', async () => {
    const a = fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(a.shape).toEqual([2, 3]);
    expect(a.dtype).toBe('f32');
    expect(await vals(a)).toEqual([1, 2, 3, 4, 5, 6]);
    const i = fromArray(new Int32Array([-1, 2 ** 31 - 1]));
    expect(i.dtype).toBe('i32');
    expect(i.shape).toEqual([2]);
    expect(await vals(i)).toEqual([-1, 2 ** 31 - 1]);
    expect(fromArray(new Float64Array([0.1]), [1]).dtype).toBe('f32');
    expect(await vals(fromArray(new Float64Array([0.1])))).toEqual([Math.fround(0.1)]);
    const h = fromArray([0.5, -2, 0.1], [3], { dtype: 'f16' });
    expect(h.dtype).toBe('f16');
    if (ctx.f16) expect(await vals(h)).toEqual([0.5, -2, 0.0999755859375]);
    expect(fromArray([], [0]).size).toBe(0);
    expect(await vals(fromArray([], [0, 2]))).toEqual([]);
  });

  it('checks the length against the shape', () => {
    expect(() => fromArray([1, 2, 3], [2, 2])).toThrow(/fromArray: 3 values do not fill shape \[2, 2\]/);
    expect(() => fromArray([1, 2], [-1, -2])).toThrow(/invalid shape \[-1, -2\]: sizes must be non-negative integers/);
  });

  it('tensor() from nested arrays and scalars', async () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(await vals(t)).toEqual([1, 2, 3, 4, 5, 6]);
    const s = tensor(4.5);
    expect(s.shape).toEqual([]);
    expect(await s.item()).toBe(4.5);
    expect(tensor([[[1], [2]]]).shape).toEqual([1, 2, 1]);
    expect(tensor([1, 2], { requiresGrad: true }).requiresGrad).toBe(true);
    expect(() => tensor([[1, 2], [3]])).toThrow(/fromArray: 3 values do not fill shape \[2, 2\]/);
  });

  it('item() needs one element', async () => {
    await expect(ones([2]).item()).rejects.toThrow(/item\(\) needs a one-element tensor, got shape \[2\]/);
  });
});

describe('rand / randn', () => {
  const N = 100_000;

  it('same seed, same values; a different seed, different values', async () => {
    for (const f of [rand, randn]) {
      const a = await vals(f([1000], { seed: 42 }));
      const b = await vals(f([1000], { seed: 42 }));
      const c = await vals(f([1000], { seed: 43 }));
      expect(b).toEqual(a);
      expect(c.filter((v, i) => v === a[i]).length).toBeLessThan(5);
      // and not a permutation of each other (consecutive seeds once gave pairwise-swapped values)
      const sa = [...a].sort();
      const sc = [...c].sort();
      expect(sc.filter((v, i) => v === sa[i]).length).toBeLessThan(5);
    }
  });

  it('element i depends only on (seed, i), not on the shape', async () => {
    const a = await vals(randn([10], { seed: 9 }));
    const b = await vals(randn([2, 50], { seed: 9 }));
    expect(b.slice(0, 10)).toEqual(a);
  });

  it('64-bit seeds: the high word matters', async () => {
    const a = await vals(rand([100], { seed: 5 }));
    const b = await vals(rand([100], { seed: 5 + 2 ** 32 }));
    expect(b.filter((v, i) => v === a[i]).length).toBeLessThan(3);
  });

  it('manualSeed makes unseeded draws reproducible', async () => {
    manualSeed(123);
    const a = await vals(randn([50]));
    const a2 = await vals(randn([50]));
    manualSeed(123);
    expect(await vals(randn([50]))).toEqual(a);
    expect(await vals(randn([50]))).toEqual(a2);
    expect(a2).not.toEqual(a);
  });

  it(`randn moments over ${N} samples: mean ~ 0, var ~ 1, tails`, async () => {
    const x = await randn([N], { seed: 7 }).toArray();
    let s = 0;
    let s2 = 0;
    let beyond2 = 0;
    for (const v of x) {
      s += v;
      s2 += v * v;
      if (Math.abs(v) > 2) beyond2++;
    }
    const mean = s / N;
    const variance = s2 / N - mean * mean;
    // standard errors: mean 1/sqrt(N) = 0.0032, var sqrt(2/N) = 0.0045; allow ~5 sigma
    expect(Math.abs(mean)).toBeLessThan(0.016);
    expect(Math.abs(variance - 1)).toBeLessThan(0.025);
    expect(beyond2 / N).toBeGreaterThan(0.0455 - 0.005); // P(|z| > 2) = 0.0455
    expect(beyond2 / N).toBeLessThan(0.0455 + 0.005);
    expect(x.every(Number.isFinite)).toBe(true);
  });

  it('randn mean / std options', async () => {
    const x = Array.from(await randn([N], { seed: 8, mean: 3, std: 0.5 }).toArray());
    const mean = x.reduce((a, b) => a + b, 0) / N;
    const sd = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / N);
    expect(Math.abs(mean - 3)).toBeLessThan(0.01);
    expect(Math.abs(sd - 0.5)).toBeLessThan(0.01);
  });

  it(`rand over ${N} samples lies in [low, high) with the right moments`, async () => {
    for (const [low, high] of [[0, 1], [-2, 3], [1000, 1001]]) {
      const x = await rand([N], { seed: 11, low, high }).toArray();
      let mn = Infinity;
      let mx = -Infinity;
      let s = 0;
      const bins = new Array(10).fill(0);
      for (const v of x) {
        mn = Math.min(mn, v);
        mx = Math.max(mx, v);
        s += v;
        bins[Math.min(9, Math.floor(((v - low) / (high - low)) * 10))]++;
      }
      expect(mn).toBeGreaterThanOrEqual(low);
      expect(mx).toBeLessThan(high);
      expect(Math.abs(s / N - (low + high) / 2)).toBeLessThan(0.01 * (high - low));
      for (const b of bins) expect(Math.abs(b / N - 0.1)).toBeLessThan(0.006); // se 0.00095
    }
  });

  it('rand defaults to [0, 1) and never returns 1 (24-bit uniforms)', async () => {
    const x = await rand([1 << 20], { seed: 7 }).toArray();
    expect(Math.max(...x.subarray(0, 1 << 16))).toBeLessThan(1);
    let mx = 0;
    for (const v of x) mx = Math.max(mx, v);
    expect(mx).toBeLessThan(1);
    expect(mx).toBeGreaterThan(0.999);
  });
});
