// world-sd: a small latent diffusion model of the synthetic world, shipped as a diffusers
// StableDiffusionPipeline folder (world_sd/: model_index.json, unet/, vae/, text_encoder/, tokenizer/,
// scheduler/) that loads with the same code as a converted Stable Diffusion 1.x folder. Two tasks:
// the AutoencoderKL (32×32×3 pixels ↔ 16×16×4 latents), then the text-conditioned UNet on its latents,
// conditioned on the frozen world CLIP's text tower.
import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import type { CLIPTokenizer } from '../io/clip-tokenizer.js';
import { bytesSource } from '../io/byte-source.js';
import { SafetensorsFile } from '../io/safetensors.js';
import { writeSafetensors, type TensorToWrite } from '../io/safetensors-write.js';
import { fromArray, manualSeed, randn } from '../ops/creation.js';
import { add, exp, mul, square, sub } from '../ops/elementwise.js';
import { l1Loss, mseLoss } from '../ops/loss.js';
import { mean } from '../ops/reduce.js';
import { CLIPTextModel } from '../models/clip/clip-text-model.js';
import { AutoencoderKL } from '../models/diffusers/autoencoder-kl.js';
import { UNet2DConditionModel } from '../models/diffusers/unet-2d-condition.js';
import { loadTokenizer, readJsonFile, resolveDir } from '../models/pretrained.js';
import { memoryDir, type WeightsDir } from '../models/weights-dir.js';
import { DDIMScheduler } from '../schedulers/ddim.js';
import { StableDiffusionPipeline } from '../pipelines/stable-diffusion.js';
import type { Attributes } from '../world/attributes.js';
import { WorldDataset, type Batch } from '../world/dataset.js';
import { Rng, hashSeed } from '../world/rng.js';
import type { DefaultTask, Opener, ShippedFiles } from './tasks.js';
import { IMAGE_SIZE, freshBatch, trainingCaption } from './world-batches.js';

/** The pipeline folder under the output folder, and its two trained components' folders. */
export const WORLD_SD = 'world_sd';
export const WORLD_SD_VAE = `${WORLD_SD}/vae`;
export const WORLD_SD_UNET = `${WORLD_SD}/unet`;
/** The world CLIP's folder: its text tower conditions the UNet (and becomes world_sd/text_encoder). */
export const WORLD_CLIP = 'clip';

/**
 * 32×32×3 ↔ 16×16×4: two blocks, one downsampling. An f8 VAE (8×8×4, channels 16, 32, 64) reached only 25.6 dB after
 * 2400 steps of 32 faces; at step 300 this f4 one's loss was 0.149 against the f8's 0.20. scaling_factor is measured at
 * export (latentScalingFactor).
 */
export const WORLD_SD_VAE_CONFIG = {
  _class_name: 'AutoencoderKL', in_channels: 3, out_channels: 3, latent_channels: 4, sample_size: IMAGE_SIZE,
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'],
  block_out_channels: [16, 32], layers_per_block: 1, norm_num_groups: 8, act_fn: 'silu', scaling_factor: 1,
};

/**
 * SD 1.x's layout at 16×16 latents: no attention at full latent resolution (the cost of attention over 256 tokens),
 * cross-attention at 8×8 and 4×4 and in the mid-block; cross_attention_dim is the world CLIP's text width (clipWorldConfig).
 */
export const WORLD_SD_UNET_CONFIG = {
  _class_name: 'UNet2DConditionModel', sample_size: IMAGE_SIZE / 2, in_channels: 4, out_channels: 4,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'], mid_block_type: 'UNetMidBlock2DCrossAttn',
  up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'], block_out_channels: [32, 64, 128], layers_per_block: 1,
  cross_attention_dim: 64, attention_head_dim: 8, norm_num_groups: 32, norm_eps: 1e-5, act_fn: 'silu',
  flip_sin_to_cos: true, freq_shift: 0, downsample_padding: 1, center_input_sample: false, use_linear_projection: false,
};

/** Stable Diffusion 1.x's noise schedule, as a DDIMScheduler config (what the pipeline samples with). */
export const SD_SCHEDULER_CONFIG = {
  _class_name: 'DDIMScheduler', num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear',
  clip_sample: false, set_alpha_to_one: false, steps_offset: 1, prediction_type: 'epsilon',
} as const;

/** KL weight of the autoencoder, as LDM's KL-f autoencoders (per-image sums of both terms). */
export const VAE_KL_WEIGHT = 1e-6;
/** Share of training captions replaced by "" (the unconditional branch of classifier-free guidance). */
export const CAPTION_DROPOUT = 0.1;
/** The faces whose latent means set scaling_factor (1 / their std, as the LDM paper). */
const SCALE_FACES = 256;
const SCALE_SEED = 0x5ca1e;

const json = (v: unknown): string => `${JSON.stringify(v, null, 1)}\n`;
const images = (b: Batch): Tensor => fromArray(b.images, [b.indices.length, 3, b.size, b.size]);

export interface WorldSdTaskOptions {
  /** Overrides of the model config (smoke tests use tiny models). */
  config?: Record<string, unknown>;
  batchSize?: number;
}

/**
 * LDM's autoencoder loss on fresh faces: the decoder reconstructs a posterior sample (reparameterised);
 * reconstruction MSE + L1 per pixel and β·KL, both as per-image sums divided by the pixels, as LDM weighs them.
 */
export function vaeLoss(vae: AutoencoderKL, x: Tensor, noiseSeed: number): Tensor {
  const { mean: mu, logvar } = vae.encode(x);
  const z = add(mu, mul(exp(mul(logvar, 0.5)), randn(mu.shape, { seed: noiseSeed })));
  const y = vae.decode(z);
  const rec = add(mseLoss(y, x), l1Loss(y, x));
  const kl = mul(mean(sub(add(square(mu), exp(logvar)), add(logvar, 1))), 0.5 * (mu.size / x.size));
  return add(rec, mul(kl, VAE_KL_WEIGHT));
}

export function worldSdVaeTask(seed: number, o: WorldSdTaskOptions = {}): DefaultTask {
  const config = { ...WORLD_SD_VAE_CONFIG, ...o.config };
  return {
    name: 'world_sd_vae', kind: 'world_sd_vae', folder: WORLD_SD_VAE,
    description: 'world-sd AutoencoderKL (channels 16, 32): 32×32×3 faces in [-1, 1] ↔ 16×16×4 latents, MSE + L1 reconstruction of a ' +
      'posterior sample + 1e-6 KL (LDM); scaling_factor = 1 / std of the latent means of 256 faces',
    steps: 4000, batchSize: o.batchSize ?? 32, seed, lr: 1e-3, ema: 0, evalNeeds: [WORLD_CLIP],
    build() {
      manualSeed(seed);
      return { model: new AutoencoderKL(config), config };
    },
    loss(model, step) {
      const b = freshBatch(step, this.batchSize, seed, { size: IMAGE_SIZE, range: 'pm1' });
      return vaeLoss(model as AutoencoderKL, images(b), hashSeed(seed, step, 13));
    },
    async exportFiles(files) {
      const weights = files[`${WORLD_SD_VAE}/model.safetensors`] as Uint8Array;
      // Measured on the shipped (f16) weights, so that anyone can recompute it from the folder.
      const vae = await AutoencoderKL.fromPretrained(memoryDir(WORLD_SD_VAE, { 'config.json': json(config), 'model.safetensors': weights }));
      const scaling = await latentScalingFactor(vae);
      vae.dispose();
      return { [`${WORLD_SD_VAE}/config.json`]: json({ ...config, scaling_factor: scaling }) };
    },
  };
}

/** 1 / std of the VAE's latent means over a fixed set of faces (5 significant digits, as SD's 0.18215). */
export async function latentScalingFactor(vae: AutoencoderKL, n = SCALE_FACES): Promise<number> {
  const ds = new WorldDataset({ n, seed: SCALE_SEED, size: IMAGE_SIZE, range: 'pm1' });
  let s = 0;
  let s2 = 0;
  let count = 0;
  for (let i = 0; i < n; i += 64) {
    const idx = Array.from({ length: Math.min(64, n - i) }, (_, k) => i + k);
    const m = noGrad(() => tidy(() => vae.encode(images(ds.batch(idx))).mean));
    for (const v of await m.toArray()) {
      s += v;
      s2 += v * v;
    }
    count += m.size;
    m.dispose();
  }
  const std = Math.sqrt((s2 - (s * s) / count) / (count - 1));
  if (!(std > 0)) throw new Error(`cflens: world_sd_vae: the latent means of ${n} faces have std ${std}; the VAE is degenerate`);
  return Number((1 / std).toPrecision(5));
}

/** The frozen components the UNet trains against: the shipped VAE and the world CLIP's text tower and tokenizer. */
export interface WorldSdFrozen { vae: AutoencoderKL; textEncoder: CLIPTextModel; tokenizer: CLIPTokenizer }

/** Opens the shipped folder of an earlier task, or says which task to train first. */
export async function neededFolder(open: Opener, folder: string, task: string, forWhat: string): Promise<string | WeightsDir> {
  const dir = open(folder);
  try {
    await readJsonFile(dir, 'config.json');
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).replace(/^cflens: /, '');
    throw new Error(`cflens: ${forWhat} needs the trained ${task} (${folder}/): ${why}. Train it first: npm run train:defaults -- --only ${task}`);
  }
  return dir;
}

export async function loadWorldSdFrozen(open: Opener): Promise<WorldSdFrozen> {
  const who = 'training world_sd_unet';
  const clipDir = await neededFolder(open, WORLD_CLIP, 'clip', who);
  const vaeDir = await neededFolder(open, WORLD_SD_VAE, 'world_sd_vae', who);
  const vae = await AutoencoderKL.fromPretrained(vaeDir);
  const textEncoder = await CLIPTextModel.fromPretrained(clipDir);
  vae.eval();
  textEncoder.eval();
  const width = textEncoder.config.hidden_size;
  if (width !== WORLD_SD_UNET_CONFIG.cross_attention_dim) {
    vae.dispose();
    textEncoder.dispose();
    throw new Error(
      `cflens: world_sd_unet: the world CLIP's text width is ${width} (${WORLD_CLIP}/config.json) but the UNet's cross_attention_dim is ` +
      `${WORLD_SD_UNET_CONFIG.cross_attention_dim}: set WORLD_SD_UNET_CONFIG.cross_attention_dim in src/train/world-sd.ts to ${width}`,
    );
  }
  return { vae, textEncoder, tokenizer: await loadTokenizer(clipDir) };
}

/** A training caption of a face, or "" with probability CAPTION_DROPOUT. */
export function worldSdCaption(a: Attributes, rng: Rng): string {
  return rng.bool(CAPTION_DROPOUT) ? '' : trainingCaption(a, rng);
}

/** The captions of training step `step` (deterministic). */
export function worldSdCaptions(attributes: readonly Attributes[], seed: number, step: number): string[] {
  const rng = new Rng(hashSeed(seed, step, 5));
  return attributes.map((a) => worldSdCaption(a, rng));
}

/**
 * The ε-prediction loss of SD on latents: x → latents and captions → conditioning through the pipeline
 * (its encodeImage and its tokenizer and encodePrompt, as at inference), both frozen.
 */
export function latentDiffusionLoss(
  pipe: StableDiffusionPipeline, alphasCumprod: ArrayLike<number>, x: Tensor, captions: readonly string[], ts: readonly number[], noiseSeed: number,
): Tensor {
  const B = x.shape[0];
  const { z0, cond } = noGrad(() => ({ z0: pipe.encodeImage(x), cond: pipe.encodePrompt(captions) }));
  const eps = randn(z0.shape, { seed: noiseSeed });
  const sa = fromArray(ts.map((t) => Math.sqrt(alphasCumprod[t])), [B, 1, 1, 1]);
  const sb = fromArray(ts.map((t) => Math.sqrt(1 - alphasCumprod[t])), [B, 1, 1, 1]);
  return mseLoss(pipe.unet.forward(add(mul(z0, sa), mul(eps, sb)), ts, cond), eps);
}

export interface WorldSdUnetTask extends DefaultTask {
  /** The pipeline the loss runs through: the frozen components around `unet` (after prepare()). */
  pipeline(unet: UNet2DConditionModel): StableDiffusionPipeline;
}

export function worldSdUnetTask(seed: number, o: WorldSdTaskOptions = {}): WorldSdUnetTask {
  const config = { ...WORLD_SD_UNET_CONFIG, ...o.config };
  const alphas = new DDIMScheduler({ ...SD_SCHEDULER_CONFIG }).alphasCumprod;
  let frozen: WorldSdFrozen | null = null;
  let pipe: StableDiffusionPipeline | null = null;
  return {
    name: 'world_sd_unet', kind: 'world_sd_unet', folder: WORLD_SD_UNET,
    description: 'world-sd UNet2DConditionModel (channels 32, 64, 128) on the 16×16×4 latents of world_sd/vae (retrain it after the VAE), ' +
      'conditioned on the frozen world CLIP text tower (captions, 10% dropped for classifier-free guidance); ε-prediction on SD 1.x\'s schedule, EMA weights',
    steps: 6000, batchSize: o.batchSize ?? 32, seed, lr: 5e-4, ema: 0.999,
    trainNeeds: [WORLD_CLIP, WORLD_SD_VAE], evalNeeds: [WORLD_CLIP, WORLD_SD],
    build() {
      manualSeed(seed);
      return { model: new UNet2DConditionModel(config), config };
    },
    async prepare(open) {
      this.release?.();
      frozen = await loadWorldSdFrozen(open);
    },
    release() {
      frozen?.vae.dispose();
      frozen?.textEncoder.dispose();
      frozen = pipe = null;
    },
    pipeline(unet) {
      if (!frozen) throw new Error('cflens: world_sd_unet: the frozen VAE and text encoder are not loaded: await task.prepare(open) before training');
      if (pipe?.unet !== unet) pipe = new StableDiffusionPipeline({ unet, ...frozen, schedulerConfig: { ...SD_SCHEDULER_CONFIG } });
      return pipe;
    },
    loss(model, step) {
      const B = this.batchSize;
      const b = freshBatch(step, B, seed, { size: IMAGE_SIZE, range: 'pm1' });
      const rng = new Rng(hashSeed(seed, step, 7));
      const ts = Array.from({ length: B }, () => rng.int(1000));
      const p = this.pipeline(model as UNet2DConditionModel);
      return latentDiffusionLoss(p, alphas, images(b), worldSdCaptions(b.attributes, seed, step), ts, hashSeed(seed, step, 11));
    },
    exportFiles: (_files, open) => pipelineFiles(open),
  };
}

/**
 * The pipeline folder around the trained unet/ and vae/: model_index.json, the scheduler config, and the
 * world CLIP's text tower and tokenizer in transformers' CLIPTextModel / CLIPTokenizer layout.
 */
export async function pipelineFiles(open: Opener): Promise<ShippedFiles> {
  const clip = await resolveDir(await neededFolder(open, WORLD_CLIP, 'clip', 'the world_sd pipeline folder'));
  const clipConfig = await readJsonFile(clip, 'config.json');
  const vocabJson = await clip.readText('vocab.json');
  const tok = await loadTokenizer(clip);
  const text = clipConfig.text_config as Record<string, unknown>;
  const at = (f: string) => `${WORLD_SD}/${f}`;
  return {
    [at('model_index.json')]: json({
      _class_name: 'StableDiffusionPipeline', _diffusers_version: '0.21.4',
      unet: ['diffusers', 'UNet2DConditionModel'], vae: ['diffusers', 'AutoencoderKL'], text_encoder: ['transformers', 'CLIPTextModel'],
      tokenizer: ['transformers', 'CLIPTokenizer'], scheduler: ['diffusers', 'DDIMScheduler'],
      safety_checker: [null, null], feature_extractor: [null, null], requires_safety_checker: false,
    }),
    [at('scheduler/scheduler_config.json')]: json(SD_SCHEDULER_CONFIG),
    [at('text_encoder/config.json')]: json({
      architectures: ['CLIPTextModel'], model_type: 'clip_text_model', ...text,
      bos_token_id: tok.sotId, eos_token_id: tok.eotId, pad_token_id: tok.eotId, projection_dim: clipConfig.projection_dim,
    }),
    [at('text_encoder/model.safetensors')]: await textTowerWeights(clip),
    [at('tokenizer/vocab.json')]: vocabJson,
    [at('tokenizer/merges.txt')]: await clip.readText('merges.txt'),
    [at('tokenizer/tokenizer_config.json')]: json({
      tokenizer_class: 'CLIPTokenizer', model_max_length: text.max_position_embeddings, do_lower_case: true, errors: 'replace',
      bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', pad_token: '<|endoftext|>',
    }),
    [at('tokenizer/special_tokens_map.json')]: json({
      bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', pad_token: '<|endoftext|>',
    }),
  };
}

/** The text_model.* tensors of the world CLIP's weights, as stored (f16). */
async function textTowerWeights(clip: WeightsDir): Promise<Uint8Array> {
  const file = 'model.safetensors';
  const st = await SafetensorsFile.open(bytesSource(`${clip.name}/${file}`, await readAll(clip, file)));
  const tensors: Record<string, TensorToWrite> = {};
  for (const n of st.names().filter((k) => k.startsWith('text_model.'))) tensors[n] = await st.read(n);
  return writeSafetensors(tensors, { format: 'pt' });
}

async function readAll(dir: WeightsDir, file: string): Promise<Uint8Array> {
  const src = await dir.open(file);
  return (await src.read(0, src.size)).slice();
}
