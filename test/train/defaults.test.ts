// The shipped default models (models/defaults, f16 safetensors) reproduce the figures recorded in
// models/defaults/manifest.json on each one's fixed small batch, and their planted biases show.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIPModel, DDIMScheduler, SmallConvNet, SmallSegmenter, UNet2DModel } from '../../src/index.js';
import { defaultTasks } from '../../src/train/tasks.js';
import {
  FIXED, ddpmFixedLoss, evaluateClassifier, evaluateClip, evaluateKeypoints, evaluateMulticlass, evaluateProbe, evaluateSegmenter, loadTokenizer, readJson,
} from '../../src/train/evaluate.js';
import { setupGpu } from '../helpers/gpu.js';

const DIR = 'models/defaults';
type Fixed = Record<string, unknown> & { fixedBatch: Record<string, unknown> };
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as { models: Record<string, Fixed> };
const task = (name: string) => defaultTasks().find((t) => t.name === name)!;

beforeAll(async () => { await setupGpu(); });

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => {
    const p = join(dir, f);
    return n + (statSync(p).isDirectory() ? dirBytes(p) : statSync(p).size);
  }, 0);
}

describe('shipped default models', () => {
  it('every task has a shipped model with config.json, f16 weights and a training record; ≤ 25 MB in all', () => {
    for (const t of defaultTasks()) {
      for (const f of ['config.json', 'model.safetensors', 'training.json']) expect(statSync(join(DIR, t.name, f)).size, `${t.name}/${f}`).toBeGreaterThan(0);
      expect(manifest.models[t.name], t.name).toBeDefined();
    }
    expect(dirBytes(DIR)).toBeLessThan(25 * 1024 * 1024);
  });

  for (const name of ['smile_blond', 'glasses_bluebg', 'smile_control']) {
    it(`${name}: fixed-batch accuracy as recorded`, async () => {
      const m = await SmallConvNet.fromPretrained(join(DIR, name));
      m.eval();
      const r = (await evaluateClassifier(m, task(name), FIXED)) as Fixed;
      expect(r.fixedBatch).toEqual(manifest.models[name].fixedBatch);
      m.dispose();
    });
  }

  it('the planted biases show: biased classifiers fail on bias-conflicting faces, the control does not', () => {
    for (const name of ['smile_blond', 'glasses_bluebg']) {
      const r = manifest.models[name] as unknown as { alignedAccuracy: number; conflictingAccuracy: number };
      expect(r.alignedAccuracy - r.conflictingAccuracy, name).toBeGreaterThan(0.15);
    }
    const c = manifest.models.smile_control as unknown as { alignedAccuracy: number; conflictingAccuracy: number };
    expect(Math.abs(c.alignedAccuracy - c.conflictingAccuracy)).toBeLessThan(0.1);
  });

  it('hair_color: fixed-batch accuracy as recorded', async () => {
    const m = await SmallConvNet.fromPretrained(join(DIR, 'hair_color'));
    m.eval();
    expect(((await evaluateMulticlass(m, task('hair_color'), FIXED)) as Fixed).fixedBatch).toEqual(manifest.models.hair_color.fixedBatch);
    m.dispose();
  });

  it('keypoints: fixed-batch error as recorded', async () => {
    const m = await SmallConvNet.fromPretrained(join(DIR, 'keypoints'));
    m.eval();
    const r = (await evaluateKeypoints(m, task('keypoints'), FIXED)) as Fixed;
    expect(r.fixedBatch.meanErrorPixels as number).toBeCloseTo(manifest.models.keypoints.fixedBatch.meanErrorPixels as number, 3);
    m.dispose();
  });

  it('segmenter: fixed-batch pixel accuracy as recorded', async () => {
    const m = await SmallSegmenter.fromPretrained(join(DIR, 'segmenter'));
    m.eval();
    const r = (await evaluateSegmenter(m, task('segmenter'), FIXED)) as Fixed;
    expect(r.fixedBatch.pixelAccuracy as number).toBeCloseTo(manifest.models.segmenter.fixedBatch.pixelAccuracy as number, 3);
    m.dispose();
  }, 60_000);

  it('probe: fixed-batch attribute accuracies as recorded', async () => {
    const m = await SmallConvNet.fromPretrained(join(DIR, 'probe'));
    m.eval();
    expect(((await evaluateProbe(m, task('probe'), FIXED)) as Fixed).fixedBatch).toEqual(manifest.models.probe.fixedBatch);
    m.dispose();
  });

  it('clip: fixed-batch zero-shot accuracies as recorded, with its own tokenizer files', async () => {
    const m = await CLIPModel.fromPretrained(join(DIR, 'clip'));
    m.eval();
    const tok = await loadTokenizer(join(DIR, 'clip'));
    expect(((await evaluateClip(m, tok, task('clip'), FIXED)) as Fixed).fixedBatch).toEqual(manifest.models.clip.fixedBatch);
    m.dispose();
  }, 60_000);

  it('ddpm: fixed-batch denoising loss as recorded', async () => {
    const unet = await UNet2DModel.fromPretrained(join(DIR, 'ddpm'));
    const s = new DDIMScheduler(await readJson(join(DIR, 'ddpm'), 'scheduler_config.json'));
    const loss = await ddpmFixedLoss(unet, s);
    expect(loss).toBeCloseTo(manifest.models.ddpm.fixedBatch.denoisingLoss as number, 3);
    unet.dispose();
  }, 60_000);
});
