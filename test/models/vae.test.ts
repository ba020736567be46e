import { beforeAll, describe, expect, it } from 'vitest';
import { AutoencoderKL } from '../../src/models/diffusers/autoencoder-kl.js';
import { backward, GpuLimitError, narrow, randn, tidy } from '../../src/index.js';
import { modelFixture, upload } from '../helpers/fixtures.js';
import { assertClose, setupGpu } from '../helpers/gpu.js';

const fx = modelFixture('vae_A');

beforeAll(async () => {
  await setupGpu();
});

describe('AutoencoderKL (diffusers layout)', () => {
  it('matches encode mean, decode and the latent gradient', async () => {
    const vae = await AutoencoderKL.fromPretrained(fx.dir);
    const { mean } = vae.encode(upload(fx.get('x')));
    assertClose(await mean.toArray(), fx.get('encode_mean').data, fx.tol, 'encode_mean');
    const z = upload(fx.get('z')).requiresGrad_();
    const decoded = vae.decode(z);
    assertClose(await decoded.toArray(), fx.get('decoded').data, fx.tol, 'decoded');
    tidy(() => backward(decoded, upload(fx.get('R'))));
    assertClose(await z.grad!.toArray(), fx.get('grad_z').data, fx.tol, 'grad_z');
  });
});

describe('AutoencoderKL tiled decoding', () => {
  it('one tile covering the latent is the whole decode; overlapping tiles stay close and pass gradients', async () => {
    const vae = await AutoencoderKL.fromPretrained(fx.dir);
    const zHost = fx.get('z');
    const z = upload(zHost).requiresGrad_();
    const whole = await vae.decode(z, { tiling: false }).toArray();
    const side = zHost.shape[2];
    assertClose(await vae.decode(z, { tiling: true, tile: side }).toArray(), whole, { atol: 0, rtol: 0 }, 'single tile');
    const tiled = vae.decode(z, { tiling: true, tile: side / 2, overlap: side / 4 });
    const t = await tiled.toArray();
    const S = side * 2;
    expect(tiled.shape).toEqual([zHost.shape[0], 3, S, S]);
    // Where only the first tile covers the image (before the second tile starts), the result is that
    // tile's own decode exactly: the blend weights are 1 there.
    const first = await vae.decode(narrow(narrow(z, 2, 0, side / 2), 3, 0, side / 2), { tiling: false }).toArray();
    const own = (side / 4) * 2; // pixels before the next tile's start (latent side / 4, factor 2)
    const T = side; // first tile's pixel side
    for (let c = 0; c < 3; c++) for (let y = 0; y < own; y++) for (let x = 0; x < own; x++) {
      expect(t[(c * S + y) * S + x]).toBeCloseTo(first[(c * T + y) * T + x], 5);
    }
    tidy(() => backward(tiled, upload(fx.get('R'))));
    const g = await z.grad!.toArray();
    expect(g.every(Number.isFinite) && g.some((v) => v !== 0)).toBe(true);
  });

  it("'auto' tiles only when the whole decode's activations exceed the binding limit", async () => {
    const vae = await AutoencoderKL.fromPretrained(fx.dir);
    const z0 = upload(fx.get('z'));
    const ctx = z0.ctx;
    assertClose(await vae.decode(z0).toArray(), fx.get('decoded').data, fx.tol, 'auto = whole when it fits');
    const z = randn([1, 4, 16, 16], { seed: 3 });
    ctx.maxBindingOverride = 64 * 1024; // weights fit (≤ 36 KiB); the 32×32 activations (128 KiB) do not
    try {
      expect(vae.decodeActivationBytes(z)).toBeGreaterThan(ctx.maxBinding);
      expect(() => vae.decode(z, { tiling: false })).toThrow(GpuLimitError);
      const auto = vae.decode(z, { tile: 8, overlap: 2 });
      expect(auto.shape).toEqual([1, 3, 32, 32]);
      expect((await auto.toArray()).every(Number.isFinite)).toBe(true);
    } finally {
      ctx.maxBindingOverride = null;
    }
  });
});
