// Counterfactual training at test size on the world DDPM and smile_blond: both loops run, the model's
// weights move, and flip resistance / accuracy are measured.
import { beforeAll, describe, expect, it } from 'vitest';
import { DDIMScheduler, SmallConvNet, UNet2DModel, add, mul, type Tensor } from '../../src/index.js';
import { ddpmHSpaceGenerator, type HSpaceGenerator } from '../../src/diagnosis/generators.js';
import { accuracy, flipResistance, harden } from '../../src/diagnosis/harden.js';
import { Rng, sampleAttributes } from '../../src/world/index.js';
import { readJsonFile } from '../../src/models/pretrained.js';
import { setupGpu } from '../helpers/gpu.js';
import { worldImages } from '../helpers/world-images.js';

let gen: HSpaceGenerator;
beforeAll(async () => {
  await setupGpu();
  const unet = await UNet2DModel.fromPretrained('models/defaults/ddpm');
  unet.eval();
  for (const p of unet.parameters()) p.requiresGrad_(false);
  gen = ddpmHSpaceGenerator(unet, new DDIMScheduler(await readJsonFile('models/defaults/ddpm', 'scheduler_config.json')), { steps: 10, invertSteps: 1 });
});

const faces = (seed: number, n: number) => {
  const rng = new Rng(seed);
  const a = Array.from({ length: n }, () => sampleAttributes(rng));
  return { images: worldImages(a), labels: a.map((f) => (f.smiling ? 1 : 0)) };
};

describe('counterfactual training', () => {
  it('fine-tunes on regular batches and UMO counterfactuals with their original labels; FR-n and accuracy are measured', async () => {
    const clf = await SmallConvNet.fromPretrained('models/defaults/smile_blond');
    const forward = (x: Tensor) => clf.forward(mul(add(x, 1), 0.5));
    const before = Array.from(await clf.parameters()[0].toArray());
    const losses = await harden({ model: clf, forward, generator: gen, regular: (s) => faces(100 + s, 2), steps: 2, k: 1, searchSteps: 1, lr: 1e-3 });
    expect(losses).toHaveLength(2);
    expect(losses.every(Number.isFinite)).toBe(true);
    const after = Array.from(await clf.parameters()[0].toArray());
    expect(after.some((v, i) => v !== before[i])).toBe(true);
    const test = faces(7, 2);
    const fr = await flipResistance(forward, gen, test.images, [1, 2]);
    expect(Object.keys(fr.fr)).toEqual(['1', '2']);
    for (const v of Object.values(fr.fr)) expect(v >= 0 && v <= 1).toBe(true);
    const acc = await accuracy(forward, test.images, test.labels);
    expect(acc >= 0 && acc <= 1).toBe(true);
    clf.dispose();
  }, 120_000);
});
