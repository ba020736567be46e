import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { backward, fromArray, grad, gradcheck, ssim, tidy, type GpuContext, type Tensor } from '../../src/index.js';
import { SafetensorsFile, bytesSource, toFloat32 } from '../../src/io/safetensors.js';
import * as ref from '../../src/reference/index.ts';
import { assertClose, checkOp, nd, randomArray, setupGpu, up } from '../helpers/gpu.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

async function loadFamily(name: string) {
  const dir = new URL('../fixtures/ops/', import.meta.url).pathname;
  const meta = JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8')) as { cases: Record<string, { call: string; atol: number; rtol: number }> };
  // A plain Uint8Array copy: a Node Buffer's slice() shares memory, which SafetensorsFile's reader does not expect.
  const file = await SafetensorsFile.open(bytesSource(`${name}.safetensors`, new Uint8Array(readFileSync(`${dir}${name}.safetensors`))));
  const get = async (k: string): Promise<ref.NDArray> => {
    const t = await file.read(k);
    return { shape: t.shape, data: Float64Array.from(toFloat32(t)) };
  };
  return { meta, get };
}

describe('PyTorch fixture (test/fixtures/ops/ssim.*)', () => {
  it('[2, 3, 20, 20], 11x11 σ 1.5: out, grad_x, grad_y', async () => {
    const fam = await loadFamily('ssim');
    expect(Object.keys(fam.meta.cases)).toEqual(['ssim']);
    const { atol, rtol } = fam.meta.cases.ssim;
    const x = up(await fam.get('ssim.x'), true);
    const y = up(await fam.get('ssim.y'), true);
    const out = ssim(x, y, { dataRange: 1, windowSize: 11, sigma: 1.5 });
    expect(out.shape).toEqual([]);
    assertClose(await out.toArray(), (await fam.get('ssim.out')).data, { atol, rtol }, 'out');
    const R = await fam.get('ssim.R');
    backward(out, fromArray(Float32Array.from(R.data), [], { ctx }));
    assertClose(await x.grad!.toArray(), (await fam.get('ssim.grad_x')).data, { atol, rtol }, 'grad_x');
    assertClose(await y.grad!.toArray(), (await fam.get('ssim.grad_y')).data, { atol, rtol }, 'grad_y');
  });
});

describe('ssim vs reference: forward and gradcheck (x and y)', () => {
  const cases: Array<{ name: string; shape: number[]; opts: ref.SsimOptions }> = [
    { name: '[1, 2, 13, 12] 11x11 σ 1.5', shape: [1, 2, 13, 12], opts: {} },
    { name: '[2, 1, 8, 9] 5x5 σ 1, data range 2', shape: [2, 1, 8, 9], opts: { windowSize: 5, sigma: 1, dataRange: 2 } },
    { name: '[1, 1, 5, 5] window = image (one map position)', shape: [1, 1, 5, 5], opts: { windowSize: 5 } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const hi = c.opts.dataRange ?? 1;
      await checkOp(
        `ssim ${c.name}`,
        (x, y) => ssim(x, y, c.opts),
        (x, y) => ref.ssim(nd(x), nd(y), c.opts),
        [randomArray(c.shape, 1, 0, hi), randomArray(c.shape, 2, 0, hi)],
        { atol: 1e-5, rtol: 1e-4, eps: 1e-4, gradAtol: 1e-4, gradRtol: 1e-2 },
      );
    });
  }

  it('identical images give 1; correlated images score higher than unrelated ones', async () => {
    const a = randomArray([1, 3, 16, 16], 3, 0, 1);
    const b = { shape: a.shape, data: a.data.map((v, i) => 0.8 * v + 0.2 * Math.sin(i)) };
    const c = randomArray([1, 3, 16, 16], 4, 0, 1);
    expect(await ssim(up(a), up(a)).item()).toBeCloseTo(1, 5);
    const sb = await ssim(up(a), up(b)).item();
    const sc = await ssim(up(a), up(c)).item();
    expect(sb).toBeGreaterThan(sc);
    expect(sb).toBeCloseTo(ref.ssim(
      nd({ shape: a.shape, data: Float64Array.from(Float32Array.from(a.data)) }),
      nd({ shape: b.shape, data: Float64Array.from(Float32Array.from(b.data)) }),
    ).data[0], 5);
  });

  it('errors name the op and the shapes', () => {
    const x = up(randomArray([1, 1, 8, 8], 5));
    expect(() => ssim(x, up(randomArray([1, 1, 8, 9], 6)))).toThrow(/ssim: inputs must be NCHW of one shape, got \[1, 1, 8, 8\] and \[1, 1, 8, 9\]/);
    expect(() => ssim(x, x)).toThrow(/ssim: 8x8 images of \[1, 1, 8, 8\] are smaller than the 11x11 window/);
  });
});

describe('ssim gradients', () => {
  it('the fused backward equals the composed (createGraph) one, for x and y', async () => {
    const xa = randomArray([2, 2, 14, 13], 7, 0, 1);
    const ya = randomArray([2, 2, 14, 13], 8, 0, 1);
    const run = async (createGraph: boolean) => {
      const x = up(xa, true);
      const y = up(ya, true);
      const gs = tidy(() => grad(ssim(x, y), [x, y], undefined, { createGraph }) as Tensor[]);
      return Promise.all(gs.map((g) => g.toArray()));
    };
    const fused = await run(false);
    const composed = await run(true);
    assertClose(composed[0], fused[0], { atol: 1e-7, rtol: 1e-4 }, 'grad x');
    assertClose(composed[1], fused[1], { atol: 1e-7, rtol: 1e-4 }, 'grad y');
  });

  it('second order: d/dx of the input gradient matches finite differences', async () => {
    const shape = [1, 1, 7, 7];
    const opts = { windowSize: 5, sigma: 1 };
    const ya = randomArray(shape, 9, 0, 1);
    const yt = up(ya);
    const yr = nd({ shape, data: Float64Array.from(Float32Array.from(ya.data)) });
    const r = await gradcheck(
      ctx,
      (x) => grad(ssim(x, yt, opts), [x], undefined, { createGraph: true })[0]!,
      (x) => {
        const h = 1e-5;
        const out = new Float64Array(x.data.length);
        for (let j = 0; j < out.length; j++) {
          const p = Float64Array.from(x.data);
          const m = Float64Array.from(x.data);
          p[j] += h;
          m[j] -= h;
          out[j] = (ref.ssim({ shape, data: p }, yr, opts).data[0] - ref.ssim({ shape, data: m }, yr, opts).data[0]) / (2 * h);
        }
        return { shape, data: out };
      },
      [randomArray(shape, 10, 0, 1)],
      { eps: 1e-4, atol: 2e-3, rtol: 2e-2 },
    );
    expect(r.ok, r.messages.join('; ')).toBe(true);
  });

  it('gradient w.r.t. one input only (the other a constant)', async () => {
    const x = up(randomArray([1, 1, 12, 12], 11), true);
    const y = up(randomArray([1, 1, 12, 12], 12));
    ssim(x, y).backward();
    expect(x.grad!.shape).toEqual([1, 1, 12, 12]);
    expect(y.grad).toBeNull();
  });
});
