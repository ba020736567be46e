import { beforeAll, describe, it } from 'vitest';
import { UNet2DModel } from '../../src/models/diffusers/unet-2d.js';
import { add, backward, tidy } from '../../src/index.js';
import { modelFixture, upload } from '../helpers/fixtures.js';
import { assertClose, setupGpu } from '../helpers/gpu.js';

const fx = modelFixture('unet_ddpm_A');

beforeAll(async () => {
  await setupGpu();
});

describe('UNet2DModel (diffusers DDPM layout) with h-space access', () => {
  it('matches the output, the mid-block output h, and an h-space edit with its gradient', async () => {
    const unet = await UNet2DModel.fromPretrained(fx.dir);
    const sample = upload(fx.get('sample'));
    const t = fx.get('timestep').data[0];
    const { sample: out, h } = unet.forwardWithH(sample, t);
    assertClose(await out.toArray(), fx.get('out').data, fx.tol, 'out');
    assertClose(await h.toArray(), fx.get('mid_block_out').data, fx.tol, 'mid_block_out');
    const dh = upload(fx.get('dh')).requiresGrad_();
    const edited = unet.forwardWithH(sample, t, (hh) => add(hh, dh)).sample;
    assertClose(await edited.toArray(), fx.get('out_edited').data, fx.tol, 'out_edited');
    tidy(() => backward(edited, upload(fx.get('R'))));
    assertClose(await dh.grad!.toArray(), fx.get('grad_dh').data, fx.tol, 'grad_dh');
  });
});
