// The shipped default models (models/defaults, f16 safetensors) reproduce the figures recorded in
// models/defaults/manifest.json on each one's fixed small batch, and their planted biases show.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AutoencoderKL, CLIPModel, DDIMScheduler, SmallConvNet, SmallSegmenter, UNet2DModel } from '../../src/index.js';
import { StableDiffusionPipeline } from '../../src/pipelines/stable-diffusion.js';
import { clipAttributeReader } from '../../src/diagnosis/attribute-reader.js';
import { defaultTasks, folderOf } from '../../src/train/tasks.js';
import {
  FIXED, ddpmFixedLoss, type Metrics, evaluateClassifier, evaluateClip, evaluateKeypoints, evaluateMulticlass, evaluateSegmenter,
  evaluateWorldSdVae, worldSdFixedLoss,
} from '../../src/train/evaluate.js';
import { latentScalingFactor } from '../../src/train/world-sd.js';
import { loadTokenizer, readJsonFile as readJson } from '../../src/models/pretrained.js';
import { setupGpu } from '../helpers/gpu.js';
import { ATTRIBUTE_GROUPS } from '../../src/world/attribute-columns.js';

const DIR = 'models/defaults';
type Fixed = Record<string, unknown> & { fixedBatch: Record<string, unknown> };
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as { models: Record<string, Fixed> };
const task = (name: string) => defaultTasks().find((t) => t.name === name)!;
/** Tasks whose weights are shipped later: their checks run once their folders exist. */
const PENDING = new Set(['world_sd_vae', 'world_sd_unet']);
const shipped = (name: string) => existsSync(join(DIR, folderOf(task(name)), 'model.safetensors'));

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
      if (PENDING.has(t.name) && !shipped(t.name)) continue;
      for (const f of ['config.json', 'model.safetensors', 'training.json']) {
        expect(statSync(join(DIR, folderOf(t), f)).size, `${folderOf(t)}/${f}`).toBeGreaterThan(0);
      }
      expect(manifest.models[t.name], t.name).toBeDefined();
    }
    expect(dirBytes(DIR)).toBeLessThan(25 * 1024 * 1024);
  });

  // Each model's fixed-batch figure, recomputed from the shipped file; counts and per-attribute
  // accuracies must be equal, continuous figures equal to 3 decimals.
  type Check = { load: (dir: string) => Promise<SmallConvNet | SmallSegmenter>; run: (m: never, name: string) => Promise<Metrics> };
  const convnet = (dir: string) => SmallConvNet.fromPretrained(dir);
  const checks: Record<string, Check> = {
    smile_blond: { load: convnet, run: (m, n) => evaluateClassifier(m, task(n), FIXED) },
    glasses_bluebg: { load: convnet, run: (m, n) => evaluateClassifier(m, task(n), FIXED) },
    smile_control: { load: convnet, run: (m, n) => evaluateClassifier(m, task(n), FIXED) },
    hair_color: { load: convnet, run: (m, n) => evaluateMulticlass(m, task(n), FIXED) },
    keypoints: { load: convnet, run: (m, n) => evaluateKeypoints(m, task(n), FIXED) },
    segmenter: { load: (dir) => SmallSegmenter.fromPretrained(dir), run: (m, n) => evaluateSegmenter(m, task(n), FIXED) },
  };
  for (const [name, c] of Object.entries(checks)) {
    it(`${name}: fixed-batch figure as recorded`, async () => {
      const m = await c.load(join(DIR, name));
      m.eval();
      const got = ((await c.run(m as never, name)) as Fixed).fixedBatch;
      const want = manifest.models[name].fixedBatch;
      for (const [k, v] of Object.entries(want)) {
        if (typeof v === 'number' && !Number.isInteger(v)) expect(got[k] as number, `${name}.${k}`).toBeCloseTo(v, 3);
        else expect(got[k], `${name}.${k}`).toEqual(v);
      }
      m.dispose();
    }, 60_000);
  }

  it('the planted biases show: biased classifiers fail on bias-conflicting faces, the control does not', () => {
    for (const name of ['smile_blond', 'glasses_bluebg']) {
      const r = manifest.models[name] as unknown as { alignedAccuracy: number; conflictingAccuracy: number };
      expect(r.alignedAccuracy - r.conflictingAccuracy, name).toBeGreaterThan(0.15);
    }
    const c = manifest.models.smile_control as unknown as { alignedAccuracy: number; conflictingAccuracy: number };
    expect(Math.abs(c.alignedAccuracy - c.conflictingAccuracy)).toBeLessThan(0.1);
  });

  it('clip: fixed-batch zero-shot accuracies as recorded, with its own tokenizer files', async () => {
    const m = await CLIPModel.fromPretrained(join(DIR, 'clip'));
    m.eval();
    const tok = await loadTokenizer(join(DIR, 'clip'));
    const fixed = ((await evaluateClip(m, tok, task('clip'), FIXED)) as Fixed).fixedBatch;
    expect(fixed).toEqual(manifest.models.clip.fixedBatch);
    // zero-shot reads every binary attribute (the target: 90%)
    const zs = (fixed as unknown as { zeroShotAccuracy: Record<string, number> }).zeroShotAccuracy;
    for (const a of ['smiling', 'glasses', 'hat', 'beard', 'earrings']) expect(zs[a], a).toBeGreaterThanOrEqual(0.9);
    m.dispose();
  }, 60_000);

  it('the attribute reader (CLIP image tower) reads every binary attribute at ≥ 97% and every categorical one at ≥ 92%', () => {
    const acc = manifest.models.clip.readerAccuracy as Record<string, number>;
    expect(Object.keys(acc).sort()).toEqual(ATTRIBUTE_GROUPS.map((g) => g.attribute).sort());
    for (const g of ATTRIBUTE_GROUPS) expect(acc[g.attribute], g.attribute).toBeGreaterThanOrEqual(g.kind === 'binary' ? 0.97 : 0.92);
  });

  it('ddpm: fixed-batch denoising loss as recorded', async () => {
    const unet = await UNet2DModel.fromPretrained(join(DIR, 'ddpm'));
    const s = new DDIMScheduler(await readJson(join(DIR, 'ddpm'), 'scheduler_config.json'));
    const loss = await ddpmFixedLoss(unet, s);
    expect(loss).toBeCloseTo(manifest.models.ddpm.fixedBatch.denoisingLoss as number, 3);
    unet.dispose();
  }, 60_000);

  it.skipIf(!shipped('world_sd_vae'))('world_sd_vae: fixed-batch figures as recorded; scaling_factor recomputes from the shipped weights', async () => {
    const clip = await CLIPModel.fromPretrained(join(DIR, 'clip'));
    const vae = await AutoencoderKL.fromPretrained(join(DIR, 'world_sd/vae'));
    expect(await latentScalingFactor(vae)).toBeCloseTo(vae.scalingFactor, 3);
    const got = ((await evaluateWorldSdVae(vae, clipAttributeReader(clip), task('world_sd_vae'), FIXED)) as unknown as Fixed).fixedBatch;
    const want = manifest.models.world_sd_vae.fixedBatch;
    expect(got.psnr as number).toBeCloseTo(want.psnr as number, 3);
    expect(got.attributePreservation).toEqual(want.attributePreservation);
    vae.dispose();
    clip.dispose();
  }, 60_000);

  it.skipIf(!shipped('world_sd_vae'))('world_sd_vae: reconstructions at ≥ 30 dB PSNR, every attribute read the same on ≥ 98% of faces', () => {
    const r = manifest.models.world_sd_vae as unknown as { psnr: number; attributePreservation: Record<string, number> };
    expect(r.psnr).toBeGreaterThanOrEqual(30);
    expect(Object.keys(r.attributePreservation).sort()).toEqual(ATTRIBUTE_GROUPS.map((g) => g.attribute).sort());
    for (const [a, v] of Object.entries(r.attributePreservation)) expect(v, a).toBeGreaterThanOrEqual(0.98);
  });

  it.skipIf(!shipped('world_sd_unet'))('world_sd: loads as a StableDiffusionPipeline; fixed-batch denoising loss as recorded', async () => {
    const pipe = await StableDiffusionPipeline.fromPretrained(join(DIR, 'world_sd'));
    expect(await worldSdFixedLoss(pipe)).toBeCloseTo(manifest.models.world_sd_unet.fixedBatch.denoisingLoss as number, 3);
    pipe.dispose();
  }, 60_000);
});
