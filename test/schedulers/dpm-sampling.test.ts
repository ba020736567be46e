// DPM-Solver++ through the pipelines' sampling loop (ddimSample takes any Scheduler): gradients reach
// z_T through every step and through the multistep history (order 3 here), and match central
// differences; a checkpointed loop, which would recompute steps, is refused with a clear error.
import { beforeAll, describe, expect, it } from 'vitest';
import { UNet2DConditionModel } from '../../src/models/diffusers/unet-2d-condition.js';
import { ddimSample } from '../../src/pipelines/sampling.js';
import { DPMSolverMultistepScheduler } from '../../src/schedulers/index.js';
import { backward, grad, manualSeed, mul, noGrad, randn, sum, tidy, type Tensor } from '../../src/index.js';
import { setupGpu } from '../helpers/gpu.js';

const TINY_COND = {
  sample_size: 8, in_channels: 4, out_channels: 4, block_out_channels: [8, 16], layers_per_block: 1,
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
  norm_num_groups: 4, cross_attention_dim: 8, attention_head_dim: 2,
};
// Stable Diffusion's betas; no lower-order steps at the end and a final σ > 0, so 4 steps run orders 1, 2, 3, 3.
const DPM = {
  beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, steps_offset: 1, solver_order: 3,
  lower_order_final: false, final_sigmas_type: 'sigma_min',
} as const;

let unet: UNet2DConditionModel;
beforeAll(async () => {
  await setupGpu();
  manualSeed(5);
  unet = new UNet2DConditionModel(TINY_COND);
});

const loss = (z: Tensor, r: Tensor) => sum(mul(z, r));

describe('DPM-Solver++ in the sampling loop', () => {
  it('dL/dz_T of a 4-step guided DPM-Solver++ (order 3) loop matches central differences', async () => {
    const zT = randn([1, 4, 8, 8], { seed: 1 }).requiresGrad_();
    const cond = randn([1, 3, 8], { seed: 2 });
    const uncond = randn([1, 3, 8], { seed: 3 });
    const R = randn([1, 4, 8, 8], { seed: 4 });
    const scheduler = new DPMSolverMultistepScheduler(DPM);
    const run = (z: Tensor) => ddimSample({ unet, scheduler, zT: z, cond, uncond, guidanceScale: 3, steps: 4, checkpointSteps: false }).latents;
    const L = loss(run(zT), R);
    const [g] = grad(L, [zT]);
    expect(scheduler.timesteps).toHaveLength(4);
    const h = 1e-2;
    for (const seed of [10, 11]) {
      const v = randn(zT.shape, { seed });
      const numeric = await noGrad(async () => {
        const at = (s: number) => tidy(() => loss(run(zT.add(mul(v, s))), R));
        const [p, m] = [at(h), at(-h)];
        return ((await p.item()) - (await m.item())) / (2 * h);
      });
      const analytic = await sum(mul(g!, v)).item();
      expect(Math.abs(analytic)).toBeGreaterThan(1e-3);
      expect(Math.abs(analytic - numeric)).toBeLessThan(2e-2 * Math.max(1, Math.abs(numeric)));
    }
    scheduler.reset();
  });

  it('a checkpointed loop is refused when backward would recompute a step', () => {
    const zT = randn([1, 4, 8, 8], { seed: 1 }).requiresGrad_();
    const z = ddimSample({ unet, scheduler: new DPMSolverMultistepScheduler(DPM), zT, cond: randn([1, 3, 8], { seed: 2 }), steps: 2 }).latents;
    expect(() => tidy(() => backward(sum(z)))).toThrow(/cflens: DPMSolverMultistepScheduler\.step: a step is being recomputed during backward .*checkpointSteps: false/);
  });
});
