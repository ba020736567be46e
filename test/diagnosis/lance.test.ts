// LANCE's image edit on the fixture Stable Diffusion folder: null-text inversion, prompt-to-prompt
// sampling of [source, edit] (word swap or refinement), the self-attention fraction chosen by a score.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StableDiffusionPipeline } from '../../src/pipelines/stable-diffusion.js';
import { memoryDir } from '../../src/models/weights-dir.js';
import { directionalSimilarity, lanceEdit, p2pMode } from '../../src/diagnosis/lance.js';
import { abs, fromArray, mean, mul, noGrad, randn, sub, tidy } from '../../src/index.js';
import { fixturePipelineFiles } from '../helpers/sd-fixture.js';
import { setupGpu } from '../helpers/gpu.js';

let pipe: StableDiffusionPipeline;
beforeAll(async () => {
  await setupGpu();
  pipe = await StableDiffusionPipeline.fromPretrained(memoryDir('sd', await fixturePipelineFiles()));
});
afterAll(() => pipe?.dispose());

describe('LANCE edit', () => {
  it('a word swap keeps prompt-to-prompt in replace mode; a longer caption refines', () => {
    expect(p2pMode(pipe, 'a photo of a cat', 'a photo of a dog').kind).toBe('replace');
    expect(p2pMode(pipe, 'a photo of a cat', 'a photo of a fluffy dog').kind).toBe('refine');
  });

  it('inverts, edits and picks the self-attention fraction with the best score', async () => {
    const image = noGrad(() => tidy(() => mul(randn([1, 3, 32, 32], { seed: 2 }), 0.5)));
    const tried: number[] = [];
    const r = await lanceEdit({
      pipe, image, caption: 'a photo of a cat', edited: 'a photo of a dog', steps: 3, innerSteps: 1, selfReplace: [0.2, 0.6],
      score: async (s, e) => {
        const d = noGrad(() => tidy(() => mean(abs(sub(e, s)))));
        const v = await d.item();
        d.dispose();
        tried.push(v);
        return -v;
      },
    });
    expect(tried).toHaveLength(2);
    expect(r.score).toBeCloseTo(Math.max(...tried.map((v) => -v)), 6);
    expect(r.selfReplace).toBe(tried[0] <= tried[1] ? 0.2 : 0.6);
    expect(r.source.shape).toEqual([1, 3, 32, 32]);
    expect(r.inversionLosses).toHaveLength(3);
    const diff = noGrad(() => tidy(() => mean(abs(sub(r.edit, r.source)))));
    expect(await diff.item()).toBeGreaterThan(0);
    for (const t of [image, r.source, r.edit, diff]) t.dispose();
  }, 60_000);

  it('directional similarity is the cosine of the image change with the text change', async () => {
    const v = (x: number[]) => fromArray(x, [1, x.length]);
    const s = directionalSimilarity(v([0, 0]), v([1, 1]), v([0, 0]), v([2, 2]));
    expect(await s.item()).toBeCloseTo(1, 5);
    const o = directionalSimilarity(v([0, 0]), v([1, 0]), v([0, 0]), v([0, 3]));
    expect(await o.item()).toBeCloseTo(0, 5);
  });
});
