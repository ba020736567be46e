// DiG-IN's UVCEs on the fixture Stable Diffusion folder: the object word's token, the mask's clean-up, and
// the optimisation — the target class's log-probability rises, and the locality terms keep the image outside
// the mask closer to the original than an unregularised run does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StableDiffusionPipeline } from '../../src/pipelines/stable-diffusion.js';
import { objectMask, uvce, wordTokenIndex } from '../../src/diagnosis/uvce.js';
import { SmallConvNet, fromArray, manualSeed, mean, mul, noGrad, randn, square, sub, tidy, type Tensor } from '../../src/index.js';
import { loadFixturePipeline } from '../helpers/sd-fixture.js';
import { setupGpu } from '../helpers/gpu.js';

let pipe: StableDiffusionPipeline;
beforeAll(async () => {
  await setupGpu();
  pipe = await loadFixturePipeline();
});
afterAll(() => pipe?.dispose());

describe('UVCE', () => {
  it("finds the object word's token in the caption, and says when it is not there", () => {
    const ids = pipe.tokenize(['a photo of a cat'])[0];
    const i = wordTokenIndex(pipe, 'a photo of a cat', 'cat');
    expect(ids[i]).toBe(pipe.tokenize(['cat'])[0][1]);
    expect(i).toBe(ids.indexOf(pipe.tokenizer.tokenizer.eotId) - 1); // … cat <eot>
    expect(() => wordTokenIndex(pipe, 'a photo of a cat', 'dog')).toThrow(/the word 'dog' is not in the caption 'a photo of a cat'/);
  });

  it('the mask: thresholded, a one-pixel speck opened away, the object dilated and blurred into [0, 1]', async () => {
    const a = new Float32Array(64);
    for (const [y, x] of [[2, 2], [2, 3], [2, 4], [3, 2], [3, 3], [3, 4], [4, 2], [4, 3], [4, 4]]) a[y * 8 + x] = 1; // a 3×3 object
    a[7 * 8 + 7] = 0.9; // a speck
    const m = await objectMask(fromArray(a, [1, 1, 8, 8]), { threshold: 0.5, dilate: 1, blur: false });
    const v = Array.from(await m.toArray());
    expect(v[7 * 8 + 7]).toBe(0);
    expect(v[1 * 8 + 1]).toBe(1); // dilated by one pixel around the object
    expect(v.reduce((s, x) => s + x, 0)).toBe(25);
    const blurred = Array.from(await (await objectMask(fromArray(a, [1, 1, 8, 8]), { threshold: 0.5 })).toArray());
    expect(Math.min(...blurred)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...blurred)).toBeLessThanOrEqual(1 + 1e-6);
    expect(blurred[0 * 8 + 0]).toBeGreaterThan(0); // the blur reaches past the dilation
  });

  it('raises log p(target) and, with the locality terms, stays closer to the original outside the mask', async () => {
    manualSeed(4);
    const net = new SmallConvNet({ channels: [4, 8], num_outputs: 2 });
    for (const p of net.parameters()) p.requiresGrad_(false);
    const image = noGrad(() => tidy(() => randn([1, 3, 32, 32], { seed: 5 }).tanh()));
    const run = (w: number) => uvce({
      pipe, classifier: (x) => net.forward(x), targetClass: 1, image, caption: 'a photo of a cat', word: 'cat',
      steps: 3, innerSteps: 1, iterations: 3, cutouts: 2, lrLatent: 0.1, lrEmbedding: 0.01, wVae: 25 * w, wPx: 250 * w, seed: 1,
      // The fixture's random weights attend everywhere: a high threshold leaves part of the image outside S.
      maskThreshold: 0.8, dilate: 0, blur: false,
    });
    const regularised = await run(1);
    const free = await run(0);
    expect(regularised.losses[regularised.losses.length - 1]).toBeLessThan(regularised.losses[0]);
    expect(free.losses[free.losses.length - 1]).toBeLessThan(free.losses[0]);
    expect(regularised.mask.shape).toEqual([1, 1, 16, 16]);
    expect(regularised.pixelMask.shape).toEqual([1, 1, 32, 32]);
    const covered = await noGrad(() => mean(regularised.pixelMask)).item();
    expect(covered).toBeGreaterThan(0);
    expect(covered).toBeLessThan(0.9);
    const outsideDistance = async (x: Tensor, m: Tensor) => noGrad(() => tidy(() => mean(square(mul(sub(x, image), sub(1, m)))))).item();
    expect(await outsideDistance(regularised.image, regularised.pixelMask)).toBeLessThan(await outsideDistance(free.image, regularised.pixelMask));
    for (const r of [regularised, free]) for (const t of [r.image, r.mask, r.pixelMask]) t.dispose();
  }, 180_000);
});
