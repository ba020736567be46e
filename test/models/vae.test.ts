import { beforeAll, describe, it } from 'vitest';
import { AutoencoderKL } from '../../src/models/diffusers/autoencoder-kl.js';
import { backward, tidy } from '../../src/index.js';
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
