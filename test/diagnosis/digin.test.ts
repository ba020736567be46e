// DiG-IN's optimiser on the fixture Stable Diffusion folder: z_T, C_t and ∅_t optimised through the
// checkpointed guided sampler and the VAE raise the disagreement of two classifiers, and a neuron's
// activation; cutouts crop, resize and add noise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StableDiffusionPipeline } from '../../src/pipelines/stable-diffusion.js';
import { cutouts, digin, disagreementObjective, neuronObjective } from '../../src/diagnosis/digin.js';
import { SmallConvNet, manualSeed, noGrad, randn } from '../../src/index.js';
import { Rng } from '../../src/world/rng.js';
import { loadFixturePipeline } from '../helpers/sd-fixture.js';
import { setupGpu } from '../helpers/gpu.js';

let pipe: StableDiffusionPipeline;
beforeAll(async () => {
  await setupGpu();
  pipe = await loadFixturePipeline();
});
afterAll(() => pipe?.dispose());

const net = (seed: number) => {
  manualSeed(seed);
  const m = new SmallConvNet({ channels: [4, 8], num_outputs: 2 });
  for (const p of m.parameters()) p.requiresGrad_(false);
  return m;
};

describe('DiG-IN', () => {
  it('cutouts: n crops per image at the image size, noise added', async () => {
    const x = noGrad(() => randn([2, 3, 16, 16], { seed: 1 }));
    const c = cutouts(x, 3, 0.1, new Rng(2));
    expect(c.shape).toEqual([6, 3, 16, 16]);
    expect(cutouts(x, 0, 0, new Rng(2)).shape).toEqual([2, 3, 16, 16]);
    c.dispose();
    x.dispose();
  });

  it('optimising z_T, C_t and ∅_t raises the disagreement of two classifiers', async () => {
    const [f, g] = [net(1), net(2)];
    const r = await digin({
      pipe, objective: disagreementObjective((x) => f.forward(x), (x) => g.forward(x), 1), prompt: 'a photo of a cat',
      steps: 2, iterations: 4, cutouts: 2, lrLatent: 0.3, lrEmbedding: 0.05, seed: 3,
    });
    expect(r.losses).toHaveLength(4);
    expect(r.losses[3]).toBeLessThan(r.losses[0]);
    expect(r.images.shape).toEqual([1, 3, 32, 32]);
    expect(r.cond).toHaveLength(2);
    for (const t of [r.images, r.zT, ...r.cond, ...r.uncond]) t.dispose();
  }, 60_000);

  it("a neuron's mean activation rises", async () => {
    const f = net(4);
    const r = await digin({
      pipe, objective: neuronObjective((x) => f.features(x), 0), prompt: '', steps: 2, iterations: 4, cutouts: 0, lrLatent: 0.3, seed: 5,
    });
    expect(r.losses[3]).toBeLessThan(r.losses[0]);
    for (const t of [r.images, r.zT, ...r.cond, ...r.uncond]) t.dispose();
  }, 60_000);
});
