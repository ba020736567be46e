// The latent h-space generator on the fixture Stable Diffusion folder: Δh lives on the conditional
// UNet's mid-block, a zero edit decodes as no edit, and gradients reach Δh through the checkpointed
// decoding and the VAE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StableDiffusionPipeline } from '../../src/pipelines/stable-diffusion.js';
import { latentHSpaceGenerator } from '../../src/diagnosis/generators.js';
import { backward, mul, noGrad, randn, sum, tidy, zeros } from '../../src/index.js';
import { loadFixturePipeline } from '../helpers/sd-fixture.js';
import { assertClose, setupGpu } from '../helpers/gpu.js';

let pipe: StableDiffusionPipeline;
beforeAll(async () => {
  await setupGpu();
  pipe = await loadFixturePipeline();
});
afterAll(() => pipe?.dispose());

describe('latentHSpaceGenerator (a Stable Diffusion folder, unconditional)', () => {
  it('inverts images to latents, decodes them with Δh on the mid-block, and passes gradients to Δh', async () => {
    const gen = latentHSpaceGenerator(pipe, { steps: 4, invertSteps: 2 });
    // unet_cond_A: 16×16 latents, two levels → a 64-channel 8×8 mid-block.
    expect(gen.hShape).toEqual([1, 64, 8, 8]);
    const x = tidy(() => mul(randn([2, 3, 32, 32], { seed: 3 }), 0.5));
    const z = gen.invert(x);
    expect(z.shape).toEqual([2, 4, 16, 16]);
    const plain = noGrad(() => gen.decode(z, null));
    const zeroEdit = noGrad(() => gen.decode(z, zeros(gen.hShape)));
    expect(plain.shape).toEqual([2, 3, 32, 32]);
    assertClose(await zeroEdit.toArray(), await plain.toArray(), { atol: 1e-4, rtol: 1e-4 }, 'Δh = 0');
    const delta = tidy(() => mul(randn(gen.hShape, { seed: 4 }), 0.1)).requiresGrad_();
    const edited = gen.decode(z, delta);
    const diff = await tidy(() => sum(mul(edited, edited))).item();
    expect(Number.isFinite(diff)).toBe(true);
    backward(tidy(() => sum(mul(edited, randn(edited.shape, { seed: 5 })))));
    const g = Array.from(await delta.grad!.toArray());
    expect(g.every(Number.isFinite)).toBe(true);
    expect(Math.max(...g.map(Math.abs))).toBeGreaterThan(0);
    for (const t of [x, z, plain, zeroEdit, delta, edited]) t.dispose();
    gen.dispose?.();
  }, 60_000);
});
