// ZOOM's per-attribute h-space direction, learned with the CLIP directional loss on the world DDPM:
// a few Adam steps raise the cosine between the image-embedding change and the attribute's text direction.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIPModel, DDIMScheduler, UNet2DModel } from '../../src/index.js';
import { loadTokenizer, readJsonFile } from '../../src/models/pretrained.js';
import { tokenizeBatch } from '../../src/train/tasks.js';
import { Rng, sampleAttributes } from '../../src/world/index.js';
import { parseBank, bankPhrases } from '../../src/diagnosis/bank.js';
import { bankDirections } from '../../src/diagnosis/umo-analysis.js';
import { ddpmHSpaceGenerator } from '../../src/diagnosis/generators.js';
import { learnDirection } from '../../src/diagnosis/zoom-directions.js';
import { setupGpu } from '../helpers/gpu.js';
import { worldImages } from '../helpers/world-images.js';

beforeAll(async () => {
  await setupGpu();
});

describe('ZOOM attribute directions', () => {
  it('the CLIP directional loss turns a random Δh towards "blond hair"', async () => {
    const unet = await UNet2DModel.fromPretrained('models/defaults/ddpm');
    unet.eval();
    const clip = await CLIPModel.fromPretrained('models/defaults/clip');
    clip.eval();
    for (const p of [...unet.parameters(), ...clip.parameters()]) p.requiresGrad_(false);
    const tok = await loadTokenizer('models/defaults/clip');
    const bank = parseBank(readFileSync('data/banks/world.json', 'utf8'));
    const all = await bankDirections(clip, (t) => tokenizeBatch(tok, t), bank);
    const dt = all[bankPhrases(bank).findIndex((p) => p.phrase === 'blond hair')];
    const scheduler = new DDIMScheduler(await readJsonFile('models/defaults/ddpm', 'scheduler_config.json'));
    const gen = ddpmHSpaceGenerator(unet, scheduler, { steps: 10, invertSteps: 2 });
    const rng = new Rng(4);
    const latents = gen.invert(worldImages(Array.from({ length: 2 }, () => sampleAttributes(rng, { hair_color: 'black' }))));
    const r = await learnDirection({ generator: gen, clip, latents, textDirection: dt, steps: 6, lr: 0.1, seed: 2 });
    // Measured: 0.01 → 0.53 in six steps.
    expect(r.cosineBefore).toBeLessThan(0.2);
    expect(r.cosineAfter).toBeGreaterThan(0.3);
    expect(r.delta.shape).toEqual(gen.hShape);
  }, 120_000);
});
