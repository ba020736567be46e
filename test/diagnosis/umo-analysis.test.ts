// UMO's analysis end to end with the world CLIP and bank: two edits made as exact counterfactuals
// (glasses added; hair turned blond) are named by their own phrases, first by S_sim after S_uni and by the greedy pick.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIPModel } from '../../src/index.js';
import { loadTokenizer } from '../../src/models/pretrained.js';
import { tokenizeBatch } from '../../src/train/tasks.js';
import { Rng, sampleAttributes } from '../../src/world/index.js';
import { parseBank } from '../../src/diagnosis/bank.js';
import { matchEdits } from '../../src/diagnosis/umo-analysis.js';
import { setupGpu } from '../helpers/gpu.js';
import { worldImages } from '../helpers/world-images.js';

const images = worldImages;

beforeAll(async () => {
  await setupGpu();
});

describe('UMO analysis', () => {
  it('names two exact edits by their own phrases (S_sim after S_uni, and greedy selection)', async () => {
    const clip = await CLIPModel.fromPretrained('models/defaults/clip');
    clip.eval();
    const tok = await loadTokenizer('models/defaults/clip');
    const bank = parseBank(readFileSync('data/banks/world.json', 'utf8'));
    const rng = new Rng(21);
    const a = Array.from({ length: 6 }, () => sampleAttributes(rng, { glasses: false }));
    const b = Array.from({ length: 6 }, () => sampleAttributes(rng, { hair_color: ['black', 'brown', 'red', 'grey'] }));
    const m = await matchEdits(clip, (t) => tokenizeBatch(tok, t), bank, [
      { original: images(a), edited: images(a.map((f) => ({ ...f, glasses: true }))) },
      { original: images(b), edited: images(b.map((f) => ({ ...f, hair_color: 'blond' as const }))) },
    ]);
    expect(m[0].ranked[0].phrase).toBe('glasses');
    expect(m[1].ranked[0].phrase).toBe('blond hair');
    expect(m[0].greedy[0].phrase).toBe('glasses');
    expect(m[1].greedy[0].phrase).toBe('blond hair');
    expect(m[1].greedy[0].group).toBe('hair_color');
    await expect(matchEdits(clip, (t) => tokenizeBatch(tok, t), bank, [])).rejects.toThrow(/no edits/);
  }, 60_000);
});
