// L_CLIP with the shipped world CLIP: an edit that changes the labelled attribute costs more than one
// that changes something else; the OpenAI pixel adaptation matches CLIPImageProcessor's arithmetic.
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIPModel, backward, fromArray, keep, tidy } from '../../src/index.js';
import { loadTokenizer } from '../../src/models/pretrained.js';
import { tokenizeBatch } from '../../src/train/tasks.js';
import { Rng, sampleAttributes, type Attributes } from '../../src/world/index.js';
import {
  OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, clipConsistencyLoss, clipPixels, promptFeatures, zeroShotProbs,
} from '../../src/diagnosis/clip-regularizer.js';
import { setupGpu } from '../helpers/gpu.js';
import { worldImages } from '../helpers/world-images.js';

const DIR = 'models/defaults/clip';
let clip: CLIPModel;

const images = worldImages;

beforeAll(async () => {
  await setupGpu();
  clip = await CLIPModel.fromPretrained(DIR);
  clip.eval();
});

describe('the CLIP regulariser', () => {
  it('the world CLIP reads pm1 pixels; L_CLIP punishes changing the labelled attribute, not others; gradients reach the edit', async () => {
    expect(clip.config.pixel_range).toBe('pm1');
    const tok = await loadTokenizer(DIR);
    const prompts = promptFeatures(clip, tokenizeBatch(tok, ['a face with no glasses', 'a face with glasses']));
    const rng = new Rng(3);
    const faces = Array.from({ length: 6 }, () => sampleAttributes(rng, { glasses: false, background_color: ['green', 'pink'] }));
    const x = images(faces);
    const p = (await zeroShotProbs(clip, prompts, x).toArray()) as Float32Array;
    for (let n = 0; n < faces.length; n++) expect(p[2 * n]).toBeGreaterThan(0.5); // read as "no glasses"
    const loss = async (edit: Partial<Attributes>) => {
      const l = clipConsistencyLoss(clip, prompts, x, images(faces.map((a) => ({ ...a, ...edit }))));
      const v = await l.item();
      l.dispose();
      return v;
    };
    const same = await loss({});
    const glasses = await loss({ glasses: true });
    const background = await loss({ background_color: 'blue' });
    expect(glasses).toBeGreaterThan(same + 0.5);
    expect(background).toBeLessThan(same + 0.5 * (glasses - same));
    const e = images(faces);
    e.requiresGrad_(true);
    const l = keep(tidy(() => clipConsistencyLoss(clip, prompts, x, e)));
    backward(l);
    const g = (await e.grad!.toArray()) as Float32Array;
    expect(g.some((v) => v !== 0)).toBe(true);
  }, 60_000);

  it('OpenAI CLIP pixels: ((x + 1) / 2 − mean) / std per channel, resized to the tower', async () => {
    const openai = new CLIPModel({ ...clip.config, pixel_range: 'openai', vision_config: { ...clip.config.vision_config, image_size: 4 } });
    const x = fromArray(Float32Array.from({ length: 3 * 16 }, (_, i) => (i % 7) / 3 - 1), [1, 3, 4, 4]);
    const y = (await clipPixels(openai, x).toArray()) as Float32Array;
    const xs = (await x.toArray()) as Float32Array;
    for (let i = 0; i < 48; i++) {
      const c = Math.floor(i / 16);
      expect(y[i]).toBeCloseTo(((xs[i] + 1) / 2 - OPENAI_CLIP_MEAN[c]) / OPENAI_CLIP_STD[c], 5);
    }
    const small = clipPixels(clip, fromArray(new Float32Array(3 * 64 * 64), [1, 3, 64, 64]));
    expect(small.shape).toEqual([1, 3, 32, 32]);
    expect(() => clipPixels(clip, fromArray([1, 2], [1, 2]))).toThrow(/expected images \[N, 3, H, W\]/);
  });
});
