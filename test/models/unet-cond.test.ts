import { beforeAll, describe, expect, it } from 'vitest';
import { UNet2DConditionModel } from '../../src/models/diffusers/unet-2d-condition.js';
import { backward, tidy } from '../../src/index.js';
import { modelFixture, upload } from '../helpers/fixtures.js';
import { assertClose, setupGpu } from '../helpers/gpu.js';

const fx = modelFixture('unet_cond_A');

beforeAll(async () => {
  await setupGpu();
});

describe('UNet2DConditionModel (diffusers layout)', () => {
  it('matches diffusers forward and input gradients', async () => {
    const unet = await UNet2DConditionModel.fromPretrained(fx.dir);
    const sample = upload(fx.get('sample')).requiresGrad_();
    const ctx = upload(fx.get('encoder_hidden_states')).requiresGrad_();
    const t = fx.get('timestep').data[0];
    const out = unet.forward(sample, t, ctx);
    assertClose(await out.toArray(), fx.get('out').data, fx.tol, 'out');
    tidy(() => backward(out, upload(fx.get('R'))));
    assertClose(await sample.grad!.toArray(), fx.get('grad_sample').data, fx.tol, 'grad_sample');
    assertClose(await ctx.grad!.toArray(), fx.get('grad_encoder_hidden_states').data, fx.tol, 'grad_encoder_hidden_states');
  });

  it('exposes every attention layer to a hook that can read and replace probabilities', async () => {
    const unet = await UNet2DConditionModel.fromPretrained(fx.dir);
    const sample = upload(fx.get('sample'));
    const ctx = upload(fx.get('encoder_hidden_states'));
    const seen: string[] = [];
    const base = unet.forward(sample, 10, ctx);
    const same = unet.forward(sample, 10, ctx, {
      attentionHook: (p, call) => { seen.push(`${call.name}:${call.isCross ? 'cross' : 'self'}:${p.shape.join('x')}`); },
    });
    assertClose(await same.toArray(), await base.toArray(), { atol: 1e-5 });
    expect(seen.some((s) => s.includes('attn2:cross'))).toBe(true);
    expect(seen.some((s) => s.includes('attn1:self'))).toBe(true);
    const uniform = unet.forward(sample, 10, ctx, { attentionHook: (p, call) => (call.isCross ? p.mul(0).add(1 / call.keyLen) : undefined) });
    const diff = (await uniform.sub(base).abs().max().item());
    expect(diff).toBeGreaterThan(1e-4);
  });
});
