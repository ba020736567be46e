// world-sd's tasks on tiny models: the VAE learns and ships its measured scaling_factor; the UNet trains
// through the pipeline's own tokenizer and encoders; the written folder loads with
// StableDiffusionPipeline.fromPretrained and samples; the evaluation runs on a few samples.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backward, mseLoss, randn, tidy, type Module } from '../../src/index.js';
import { AutoencoderKL } from '../../src/models/diffusers/autoencoder-kl.js';
import { UNet2DConditionModel } from '../../src/models/diffusers/unet-2d-condition.js';
import { CLIPModel } from '../../src/models/clip/clip-model.js';
import { StableDiffusionPipeline } from '../../src/pipelines/stable-diffusion.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { bytesSource } from '../../src/io/byte-source.js';
import { clipAttributeReader } from '../../src/diagnosis/attribute-reader.js';
import { clipWorldConfig, defaultTasks, type DefaultTask, type ShippedFiles } from '../../src/train/tasks.js';
import { trainTask } from '../../src/train/trainer.js';
import { shippedFiles } from '../../src/train/ship.js';
import { evaluateWorldSdUnet, evaluateWorldSdVae } from '../../src/train/evaluate.js';
import {
  latentScalingFactor, SD_SCHEDULER_CONFIG, vaeLoss, WORLD_SD_UNET_CONFIG, WORLD_SD_VAE_CONFIG, worldSdCaptions, worldSdUnetTask, worldSdVaeTask,
} from '../../src/train/world-sd.js';
import { WorldDataset } from '../../src/world/dataset.js';
import { precompileForFile, setupGpu } from '../helpers/gpu.js';

const TINY_VAE = { block_out_channels: [8, 8], norm_num_groups: 4 };
const TINY_UNET = { block_out_channels: [8, 16, 16], attention_head_dim: 2, norm_num_groups: 8 };
const scratch = mkdtempSync(join(tmpdir(), 'cflens-world-sd-'));
const open = (folder: string) => (folder === 'clip' ? 'models/defaults/clip' : join(scratch, folder));

beforeAll(async () => { await setupGpu(); });
// From an empty shader cache the VAE's and the UNet's kernels take most of this file's time: compiled up front.
precompileForFile(() => {
  const vae = new AutoencoderKL({ ...WORLD_SD_VAE_CONFIG, ...TINY_VAE });
  vaeLoss(vae, randn([2, 3, 32, 32]), 1).backward();
  const unet = new UNet2DConditionModel({ ...WORLD_SD_UNET_CONFIG, ...TINY_UNET });
  mseLoss(unet.forward(randn([2, 4, 16, 16]), [1, 500], randn([2, 48, 64])), randn([2, 4, 16, 16])).backward();
  vae.dispose();
  unet.dispose();
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function write(files: ShippedFiles): void {
  for (const [path, body] of Object.entries(files)) {
    mkdirSync(dirname(join(scratch, path)), { recursive: true });
    writeFileSync(join(scratch, path), body);
  }
}

async function lossAt(task: DefaultTask, model: Module, step: number): Promise<number> {
  const l = tidy(() => task.loss(model, step, task.steps));
  const v = await l.item();
  l.dispose();
  return v;
}

describe('world-sd tasks', () => {
  it('are trained after the world CLIP, the VAE before the UNet; the UNet attends to the CLIP text width', () => {
    const names = defaultTasks().map((t) => t.name);
    expect(names.indexOf('clip')).toBeLessThan(names.indexOf('world_sd_vae'));
    expect(names.indexOf('world_sd_vae')).toBeLessThan(names.indexOf('world_sd_unet'));
    expect(WORLD_SD_UNET_CONFIG.cross_attention_dim).toBe(clipWorldConfig(1).text_config.hidden_size);
  });

  it('VAE: every parameter gets a gradient; 10 steps lower the loss; the shipped config carries the measured scaling_factor', async () => {
    const task = worldSdVaeTask(7, { config: TINY_VAE, batchSize: 4 });
    const { model } = task.build();
    const l = tidy(() => {
      const x = task.loss(model, 0, 10);
      backward(x);
      return x;
    });
    expect(Number.isFinite(await l.item())).toBe(true);
    l.dispose();
    expect(model.parameters().filter((p) => !p.grad).length).toBe(0);
    const before = await lossAt(task, model, 0);
    model.dispose();
    const r = await trainTask(task, { steps: 10 });
    expect(await lossAt(task, r.model, 0)).toBeLessThan(before);
    const files = await shippedFiles(task, r, open);
    r.dispose();
    write(files);
    const config = JSON.parse(files['world_sd/vae/config.json'] as string) as { scaling_factor: number; _class_name: string };
    expect(config._class_name).toBe('AutoencoderKL');
    const shipped = await AutoencoderKL.fromPretrained(join(scratch, 'world_sd/vae'));
    expect(shipped.scalingFactor).toBe(config.scaling_factor);
    expect(await latentScalingFactor(shipped)).toBe(config.scaling_factor); // recomputed from the shipped f16 weights
    expect(config.scaling_factor).toBeGreaterThan(0);
    shipped.dispose();
  }, 30_000);

  it('UNet: needs the trained VAE and CLIP, named; 10% of captions are empty', async () => {
    const task = worldSdUnetTask(8, { config: TINY_UNET, batchSize: 2 });
    await expect(trainTask(task, { steps: 1 })).rejects.toThrow(/training world_sd_unet needs the shipped folders clip, world_sd\/vae: pass open/);
    const nowhere = (f: string) => join(scratch, 'missing', f);
    await expect(task.prepare!(nowhere)).rejects.toThrow(/training world_sd_unet needs the trained clip \(clip\/\).*--only clip/);
    const captions = worldSdCaptions(new WorldDataset({ n: 400, seed: 3 }).attributes, 8, 0);
    const dropped = captions.filter((c) => c === '').length / captions.length;
    expect(dropped).toBeGreaterThan(0.06);
    expect(dropped).toBeLessThan(0.14);
    expect(captions.find((c) => c)).toMatch(/^a face with /);
  });

  it('UNet: trains through the pipeline; the written folder loads with StableDiffusionPipeline and samples', async () => {
    const task = worldSdUnetTask(8, { config: TINY_UNET, batchSize: 2 });
    const r = await trainTask(task, { steps: 2, open });
    expect((r.state.extra.losses as number[][]).every(([, l]) => Number.isFinite(l))).toBe(true);
    const files = await shippedFiles(task, r, open);
    write(files);
    const index = JSON.parse(files['world_sd/model_index.json'] as string) as Record<string, unknown>;
    expect(index).toMatchObject({
      _class_name: 'StableDiffusionPipeline', unet: ['diffusers', 'UNet2DConditionModel'], text_encoder: ['transformers', 'CLIPTextModel'],
    });
    expect(JSON.parse(files['world_sd/scheduler/scheduler_config.json'] as string)).toEqual(SD_SCHEDULER_CONFIG);
    expect(JSON.parse(files['world_sd/tokenizer/tokenizer_config.json'] as string).model_max_length).toBe(48);
    const te = await SafetensorsFile.open(bytesSource('te', files['world_sd/text_encoder/model.safetensors'] as Uint8Array));
    expect(te.names().every((k) => k.startsWith('text_model.'))).toBe(true);

    const pipe = await StableDiffusionPipeline.fromPretrained(join(scratch, 'world_sd'));
    // Training conditioned on exactly what inference computes: the same ids and text states.
    await task.prepare!(open);
    const trainPipe = (task as ReturnType<typeof worldSdUnetTask>).pipeline(r.model as UNet2DConditionModel);
    const prompts = ['a face with red hair, glasses', ''];
    expect(trainPipe.tokenize(prompts)).toEqual(pipe.tokenize(prompts));
    const [a, b] = [trainPipe.encodePrompt(prompts), pipe.encodePrompt(prompts)];
    expect(Array.from(await a.toArray())).toEqual(Array.from(await b.toArray()));
    a.dispose();
    b.dispose();
    task.release!();
    r.dispose();

    const { latents } = pipe.sample({ prompt: 'a face with red hair', guidanceScale: 5, steps: 2, checkpointSteps: false });
    const x = pipe.decodeLatents(latents);
    expect(x.shape).toEqual([1, 3, 32, 32]);
    expect(Array.from(await x.toArray()).every(Number.isFinite)).toBe(true);
    latents.dispose();
    x.dispose();
    pipe.dispose();
  }, 30_000);

  it('evaluation: reconstruction PSNR and preservation, fixed-batch loss and text-to-image shares (a few samples)', async () => {
    const clip = await CLIPModel.fromPretrained('models/defaults/clip');
    const reader = clipAttributeReader(clip);
    const vae = await AutoencoderKL.fromPretrained(join(scratch, 'world_sd/vae'));
    const v = await evaluateWorldSdVae(vae, reader, worldSdVaeTask(7), 4);
    expect(v.psnr).toBeGreaterThan(0);
    expect(Object.keys(v.attributePreservation as object)).toContain('hair_color');
    vae.dispose();
    const pipe = await StableDiffusionPipeline.fromPretrained(join(scratch, 'world_sd'));
    const u = await evaluateWorldSdUnet(pipe, reader, worldSdUnetTask(8), { samplesPerPrompt: 1, steps: 2, attributes: ['glasses'] });
    expect(Object.keys(u.textToImageByValue as object)).toEqual(['glasses=false', 'glasses=true']);
    expect(Number.isFinite((u.fixedBatch as { denoisingLoss: number }).denoisingLoss)).toBe(true);
    expect(readFileSync(join(scratch, 'world_sd/model_index.json'), 'utf8')).toContain('DDIMScheduler');
    pipe.dispose();
    clip.dispose();
  }, 30_000);
});
