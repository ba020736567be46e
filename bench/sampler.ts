// Peak pool memory and time per step of backprop through a guided DDIM sampler, with and without
// per-step checkpointing (issue: peak at N = 20 should stay within 1.3× of N = 1 when checkpointed).
import { backward, initGpu, manualSeed, mul, randn, sum, tidy } from '../src/index.js';
import { UNet2DConditionModel } from '../src/models/diffusers/unet-2d-condition.js';
import { DDIMScheduler } from '../src/schedulers/ddim.js';
import { ddimSample } from '../src/pipelines/sampling.js';

export interface SamplerRow { steps: number; checkpoint: boolean; peakMB: number; forwardMsPerStep: number; backwardMsPerStep: number }

export async function runSamplerBench({ quick = false }: { quick?: boolean } = {}): Promise<SamplerRow[]> {
  const ctx = await initGpu();
  manualSeed(1);
  // A small SD-shaped UNet (two resolutions, cross-attention) at a 16×16 latent.
  const unet = new UNet2DConditionModel({
    sample_size: 16, block_out_channels: quick ? [16, 32] : [32, 64], layers_per_block: 1,
    down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
    norm_num_groups: 8, cross_attention_dim: 32, attention_head_dim: 4,
  });
  const rows: SamplerRow[] = [];
  for (const steps of quick ? [1, 5] : [1, 5, 20]) {
    for (const checkpoint of [true, false]) {
      const zT = randn([1, 4, 16, 16], { seed: 1 }).requiresGrad_();
      const cond = randn([1, 7, 32], { seed: 2 }).requiresGrad_();
      const uncond = randn([1, 7, 32], { seed: 3 }).requiresGrad_();
      await ctx.sync();
      ctx.pool.resetPeak();
      const base = ctx.pool.snapshot().liveBytes;
      const t0 = performance.now();
      const z = ddimSample({
        unet,
        scheduler: new DDIMScheduler({
          beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, steps_offset: 1, clip_sample: false, set_alpha_to_one: false,
        }),
        zT, cond, uncond, steps, checkpointSteps: checkpoint,
      }).latents;
      await ctx.sync();
      const t1 = performance.now();
      tidy(() => backward(sum(mul(z, z))));
      await ctx.sync();
      const t2 = performance.now();
      rows.push({
        steps, checkpoint, peakMB: (ctx.pool.snapshot().peakLiveBytes - base) / 2 ** 20, forwardMsPerStep: (t1 - t0) / steps,
        backwardMsPerStep: (t2 - t1) / steps,
      });
      for (const t of [zT, cond, uncond, z]) t.dispose();
    }
  }
  unet.dispose();
  return rows;
}
