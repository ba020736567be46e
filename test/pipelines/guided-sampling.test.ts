import { beforeAll, describe, expect, it } from 'vitest';
import { UNet2DConditionModel } from '../../src/models/diffusers/unet-2d-condition.js';
import { UNet2DModel } from '../../src/models/diffusers/unet-2d.js';
import { DDIMScheduler } from '../../src/schedulers/ddim.js';
import { ddimSample } from '../../src/pipelines/sampling.js';
import { asyrpSample, DeltaBlock } from '../../src/pipelines/hspace.js';
import { alignTokens, promptToPromptHook, TokenMaskAccumulator } from '../../src/pipelines/prompt-to-prompt.js';
import { nullTextInversion, psnr } from '../../src/pipelines/null-text.js';
import { backward, concat, fromArray, grad, manualSeed, mul, noGrad, randn, sum, tidy, type GpuContext, type Tensor } from '../../src/index.js';
import { assertClose, setupGpu } from '../helpers/gpu.js';

const TINY_COND = {
  sample_size: 8, in_channels: 4, out_channels: 4, block_out_channels: [8, 16], layers_per_block: 1,
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
  norm_num_groups: 4, cross_attention_dim: 8, attention_head_dim: 2,
};
const TINY_DDPM = {
  sample_size: 8, in_channels: 3, out_channels: 3, block_out_channels: [8, 16], layers_per_block: 1,
  down_block_types: ['DownBlock2D', 'AttnDownBlock2D'], up_block_types: ['AttnUpBlock2D', 'UpBlock2D'], norm_num_groups: 4,
};
const SCHED = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, clip_sample: false, set_alpha_to_one: false, steps_offset: 1 } as const;

let ctx: GpuContext;
let unet: UNet2DConditionModel;
beforeAll(async () => {
  ctx = await setupGpu();
  manualSeed(3);
  unet = new UNet2DConditionModel(TINY_COND);
});

const loss = (z: Tensor, r: Tensor) => sum(mul(z, r));

describe('differentiable sampling', () => {
  it('gradients of a 2-step guided sampler match central differences along random directions', async () => {
    const zT = randn([1, 4, 8, 8], { seed: 1 }).requiresGrad_();
    const cond = randn([1, 3, 8], { seed: 2 }).requiresGrad_();
    const uncond = randn([1, 3, 8], { seed: 3 }).requiresGrad_();
    const R = randn([1, 4, 8, 8], { seed: 4 });
    const run = (z: Tensor, c: Tensor, u: Tensor) => ddimSample({
      unet, scheduler: new DDIMScheduler(SCHED), zT: z, cond: c, uncond: u, guidanceScale: 3, steps: 2,
    }).latents;
    const L = loss(run(zT, cond, uncond), R);
    const grads = grad(L, [zT, cond, uncond]);
    const h = 1e-2;
    for (const [i, x] of [zT, cond, uncond].entries()) {
      const v = randn(x.shape, { seed: 10 + i });
      const num = await noGrad(async () => {
        const at = (s: number) => tidy(() => {
          const xs = [zT, cond, uncond].map((y, j) => (j === i ? y.add(mul(v, s)) : y));
          return loss(run(xs[0], xs[1], xs[2]), R);
        });
        const [p, m] = [at(h), at(-h)];
        return ((await p.item()) - (await m.item())) / (2 * h);
      });
      const analytic = await sum(mul(grads[i]!, v)).item();
      expect(Math.abs(analytic - num)).toBeLessThan(2e-2 * Math.max(1, Math.abs(num)));
    }
  });

  it('checkpointed and plain sampling give the same gradients, and checkpointing caps peak memory', async () => {
    const measure = async (steps: number, checkpointSteps: boolean) => {
      const zT = randn([1, 4, 8, 8], { seed: 1 }).requiresGrad_();
      const cond = randn([1, 3, 8], { seed: 2 }).requiresGrad_();
      await ctx.sync();
      ctx.pool.resetPeak();
      const base = ctx.pool.snapshot().liveBytes;
      const z = ddimSample({ unet, scheduler: new DDIMScheduler(SCHED), zT, cond, uncond: randn([1, 3, 8], { seed: 3 }), steps, checkpointSteps }).latents;
      tidy(() => backward(loss(z, fromArray(new Float32Array(256).fill(1), [1, 4, 8, 8]))));
      const peak = ctx.pool.snapshot().peakLiveBytes - base;
      return { peak, gz: await zT.grad!.toArray(), gc: await cond.grad!.toArray() };
    };
    const plain = await measure(5, false);
    const ck = await measure(5, true);
    assertClose(ck.gz, plain.gz, { atol: 1e-5, rtol: 1e-4 });
    assertClose(ck.gc, plain.gc, { atol: 1e-5, rtol: 1e-4 });
    const one = await measure(1, true);
    expect(ck.peak).toBeLessThan(plain.peak);
    expect(ck.peak).toBeLessThan(1.3 * one.peak);
  });
});

describe('h-space edits (Asyrp)', () => {
  it('a global Δh and a DeltaBlock receive gradients through the asymmetric sampler', async () => {
    const ddpm = new UNet2DModel(TINY_DDPM);
    const xT = randn([1, 3, 8, 8], { seed: 5 });
    const dh = fromArray(new Float32Array(16 * 4 * 4).fill(0.1), [1, 16, 4, 4]).requiresGrad_();
    const base = noGrad(() => asyrpSample({
      unet: ddpm, scheduler: new DDIMScheduler(SCHED), xT, steps: 3, edit: fromArray(new Float32Array(256), [1, 16, 4, 4]),
    }));
    const edited = asyrpSample({ unet: ddpm, scheduler: new DDIMScheduler(SCHED), xT, steps: 3, edit: dh, tEdit: 0 });
    expect(await tidy(() => edited.sub(base).abs().max()).item()).toBeGreaterThan(1e-5);
    sum(edited).backward();
    expect(await tidy(() => dh.grad!.abs().sum()).item()).toBeGreaterThan(0);
    const block = new DeltaBlock(16, { groups: 4, timeDim: 16, seed: 1 });
    const out = asyrpSample({ unet: ddpm, scheduler: new DDIMScheduler(SCHED), xT, steps: 3, edit: block });
    // The zero-initialised output conv means no edit yet, but its weights still get a gradient.
    assertClose(await out.toArray(), await base.toArray(), { atol: 1e-5 });
    sum(mul(out, out)).backward();
    expect(await tidy(() => block.conv_out.weight.grad!.abs().sum()).item()).toBeGreaterThan(0);
  });
});

describe('null-text inversion', () => {
  it('reconstructs the inverted latent better than plain DDIM inversion under guidance', async () => {
    const x0 = randn([1, 4, 8, 8], { seed: 8 });
    const cond = randn([1, 3, 8], { seed: 9 });
    const uncond = randn([1, 3, 8], { seed: 10 });
    const steps = 4;
    const res = await nullTextInversion({ unet, scheduler: new DDIMScheduler(SCHED), x0, cond, uncond, steps, guidanceScale: 3, innerSteps: 10, lr: 5e-2 });
    expect(res.nullEmbeddings.length).toBe(steps);
    const zT = res.trajectory[steps];
    const sample = (nulls: Tensor | Tensor[]) => noGrad(() => ddimSample({
      unet, scheduler: new DDIMScheduler(SCHED), zT, cond, uncond: nulls, guidanceScale: 3, steps,
    }).latents);
    const before = await psnr(sample(uncond), x0);
    const after = await psnr(sample(res.nullEmbeddings), x0);
    expect(after).toBeGreaterThan(before);
  });
});

describe('prompt-to-prompt', () => {
  it('aligns tokens by longest common subsequence', () => {
    expect(alignTokens([1, 5, 6, 2], [1, 5, 9, 6, 2])).toEqual([0, 1, -1, 2, 3]);
  });

  it('injection replaces the conditional maps of the edit with those of the source, only for the configured steps', async () => {
    const hook = promptToPromptHook({ mode: { kind: 'replace' }, steps: 10, crossReplace: 0.5, selfReplace: 0.2, reweight: { 2: 3 } });
    const probs = randn([4, 2, 4, 3], { seed: 20 });
    const call = { name: 'x.attn2', isCross: true, heads: 2, queryLen: 4, keyLen: 3 };
    const early = hook(1)(probs, call) as Tensor;
    const src = await probs.narrow(0, 2, 1).toArray();
    const expected = Array.from(src, (v, i) => (i % 3 === 2 ? 3 * v : v));
    assertClose(await early.narrow(0, 3, 1).toArray(), expected, { atol: 1e-6 });
    assertClose(await early.narrow(0, 0, 3).toArray(), await probs.narrow(0, 0, 3).toArray(), { atol: 0 });
    const late = hook(7)(probs, call) as Tensor;
    const own = await probs.narrow(0, 3, 1).toArray();
    assertClose(await late.narrow(0, 3, 1).toArray(), Array.from(own, (v, i) => (i % 3 === 2 ? 3 * v : v)), { atol: 1e-6 });
    expect(hook(1)(probs, { ...call, isCross: false, name: 'x.attn1' })).toBeDefined();
    expect(hook(5)(probs, { ...call, isCross: false, name: 'x.attn1' })).toBeUndefined();
  });

  it('changes only the edited half of the batch, and averages a token mask', async () => {
    const zT = randn([1, 4, 8, 8], { seed: 11 });
    const src = randn([1, 3, 8], { seed: 12 });
    const edit = randn([1, 3, 8], { seed: 13 });
    const u = randn([1, 3, 8], { seed: 14 });
    const steps = 3;
    const run = (cross: number, self: number, mask?: TokenMaskAccumulator) => noGrad(() => ddimSample({
      unet, scheduler: new DDIMScheduler(SCHED), zT: concat([zT, zT], 0), cond: concat([src, edit], 0), uncond: concat([u, u], 0), guidanceScale: 3, steps,
      attentionHook: promptToPromptHook({
        mode: { kind: 'replace' }, steps, crossReplace: cross, selfReplace: self, maxSelfTokens: 1e9,
        onSourceCross: mask ? (p, call) => mask.add(p, call) : undefined,
      }),
    }).latents);
    const mask = new TokenMaskAccumulator(1, [8, 8]);
    const injected = run(1, 1, mask);
    const free = run(0, 0);
    // The source half never sees an injection; the edit half does.
    assertClose(await injected.narrow(0, 0, 1).toArray(), await free.narrow(0, 0, 1).toArray(), { atol: 1e-5 });
    expect(await tidy(() => injected.narrow(0, 1, 1).sub(free.narrow(0, 1, 1)).abs().max()).item()).toBeGreaterThan(1e-4);
    const m = mask.mask();
    expect(m.shape).toEqual([1, 1, 8, 8]);
    expect(await tidy(() => m.max()).item()).toBeCloseTo(1, 5);
    expect(await tidy(() => mask.mask(0.5).sum()).item()).toBeGreaterThan(0);
  });
});
