import { beforeAll, describe, expect, it } from 'vitest';
import { UNet2DConditionModel } from '../../src/models/diffusers/unet-2d-condition.js';
import { DDIMScheduler } from '../../src/schedulers/ddim.js';
import { ddimInvert, ddimSample } from '../../src/pipelines/sampling.js';
import { backward, tidy, type Tensor } from '../../src/index.js';
import { modelFixture, upload } from '../helpers/fixtures.js';
import { assertClose, setupGpu } from '../helpers/gpu.js';

const fx = modelFixture('ddim_A');
const unetDir = modelFixture('unet_cond_A').dir;
let unet: UNet2DConditionModel;

beforeAll(async () => {
  await setupGpu();
  unet = await UNet2DConditionModel.fromPretrained(unetDir);
});

describe('DDIM with classifier-free guidance (diffusers reference, 3 of 10 steps)', () => {
  for (const checkpointSteps of [true, false]) {
    it(`matches z1..z3 and the gradients w.r.t. zT, cond and uncond (checkpointing ${checkpointSteps ? 'on' : 'off'})`, async () => {
      const zT = upload(fx.get('zT')).requiresGrad_();
      const cond = upload(fx.get('cond')).requiresGrad_();
      const uncond = upload(fx.get('uncond')).requiresGrad_();
      const { latents } = ddimSample({
        unet, scheduler: new DDIMScheduler(fx.config.scheduler), zT, cond, uncond, guidanceScale: 7.5, steps: 10, stopAfter: 3,
        checkpointSteps,
      });
      assertClose(await latents.toArray(), fx.get('z3').data, fx.tol, 'z3');
      tidy(() => backward(latents, upload(fx.get('R'))));
      assertClose(await zT.grad!.toArray(), fx.get('grad_zT').data, fx.tol, 'grad_zT');
      assertClose(await cond.grad!.toArray(), fx.get('grad_cond').data, fx.tol, 'grad_cond');
      assertClose(await uncond.grad!.toArray(), fx.get('grad_uncond').data, fx.tol, 'grad_uncond');
    });
  }

  it('matches every intermediate latent', async () => {
    const seen: Tensor[] = [];
    const { latents } = ddimSample({
      unet, scheduler: new DDIMScheduler(fx.config.scheduler), zT: upload(fx.get('zT')), cond: upload(fx.get('cond')), uncond: upload(fx.get('uncond')),
      guidanceScale: 7.5, steps: 10, stopAfter: 3, onStep: (_i, _t, z) => seen.push(z.detach()),
    });
    expect(seen.length).toBe(3);
    for (const [i, name] of ['z1', 'z2', 'z3'].entries()) assertClose(await seen[i].toArray(), fx.get(name).data, fx.tol, name);
    latents.dispose();
  });

  it('matches the DDIM inversion trajectory', async () => {
    const traj = ddimInvert({
      unet, scheduler: new DDIMScheduler(fx.config.scheduler), x0: upload(fx.get('inv_x0')), cond: upload(fx.get('cond')), steps: 10, stopAfter: 3,
    });
    for (const [i, name] of ['inv1', 'inv2', 'inv3'].entries()) assertClose(await traj[i + 1].toArray(), fx.get(name).data, fx.tol, name);
  });
});
