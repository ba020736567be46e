// The default models cflens trains on its world, each as a task: how to build it (seeded), one
// training loss per step (deterministic data), and how to evaluate the shipped (f16) weights.
import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { CLIPTokenizer, learnClipBpe } from '../io/clip-tokenizer.js';
import { fromArray, manualSeed, randn } from '../ops/creation.js';
import { add, mul } from '../ops/elementwise.js';
import { binaryCrossEntropyWithLogits, crossEntropy, mseLoss } from '../ops/loss.js';
import { matmul } from '../ops/matmul.js';
import { narrow, transpose } from '../ops/shape.js';
import { AdamW, type Optimizer } from '../nn/optim.js';
import type { Module } from '../nn/module.js';
import { CLIPModel, l2normalize, type CLIPConfig } from '../models/clip/clip-model.js';
import { UNet2DModel } from '../models/diffusers/unet-2d.js';
import { SmallConvNet, SmallSegmenter } from '../models/small/convnet.js';
import type { WeightsDir } from '../models/weights-dir.js';
import { DDIMScheduler } from '../schedulers/ddim.js';
import { ATTRIBUTES, sampleAttributes, caption } from '../world/attributes.js';
import { type Batch, type DatasetOptions } from '../world/dataset.js';
import { MASK_CLASSES, KEYPOINT_NAMES } from '../world/render.js';
import { ATTRIBUTE_COLUMNS, attributeTargets } from '../world/attribute-columns.js';
import { Rng, hashSeed } from '../world/rng.js';
import { learningRate } from './schedule.js';
import { captionMatches, counterfactualPairs, EpochSampler, freshBatch, IMAGE_SIZE, trainingCaption } from './world-batches.js';
import { worldSdUnetTask, worldSdVaeTask } from './world-sd.js';

export { IMAGE_SIZE };

export type TaskKind = 'ddpm' | 'clip' | 'classifier' | 'multiclass' | 'keypoints' | 'segmenter' | 'world_sd_vae' | 'world_sd_unet';

/** A shipped folder by its path under the output folder ('clip', 'world_sd/vae'): a path in Node, or a WeightsDir. */
export type Opener = (folder: string) => string | WeightsDir;

/** Files of shipped folders, by path under the output folder ('world_sd/vae/config.json'). */
export type ShippedFiles = Record<string, string | Uint8Array>;

export interface BuiltModel {
  model: Module;
  /** config.json of the shipped folder. */
  config: Record<string, unknown>;
  /** Other files of the shipped folder (tokenizer, scheduler config), by name. */
  files?: Record<string, string>;
}

export interface DefaultTask {
  name: string;
  kind: TaskKind;
  description: string;
  steps: number;
  batchSize: number;
  seed: number;
  lr: number;
  /** EMA decay of the shipped weights (0: ship the trained weights themselves). */
  ema: number;
  /** Where the shipped folder goes under the output folder (default: the name), e.g. 'world_sd/vae'. */
  folder?: string;
  /** Shipped folders (of tasks trained earlier) that the evaluation needs. */
  evalNeeds?: string[];
  /** Shipped folders (of tasks trained earlier) that training needs: prepare() loads them. */
  trainNeeds?: string[];
  build(): BuiltModel;
  /** Loads what the loss needs besides the model (frozen models of earlier tasks); awaited before the first step. */
  prepare?(open: Opener): Promise<void>;
  /** Frees what prepare() loaded. */
  release?(): void;
  /**
   * Files to ship beyond config.json, the weights and BuiltModel.files (given, by path under the output
   * folder): it may replace them (a config completed from the weights) or add sibling files.
   */
  exportFiles?(files: ShippedFiles, open: Opener): Promise<ShippedFiles>;
  /** The loss of training step `step` of `steps` (graph recorded; the runner calls backward). */
  loss(model: Module, step: number, steps: number): Tensor;
  /** The learning rate of a step, where the task schedules its own (default: warm-up + cosine of lr). */
  learningRate?(step: number, steps: number): number;
}

/** The task's shipped folder under the output folder. */
export const folderOf = (task: DefaultTask): string => task.folder ?? task.name;

const images = (b: Batch) => fromArray(b.images, [b.size ? b.indices.length : 0, 3, b.size, b.size]);

/** The 10 000 / 10 000 / 100 / 100 table of the papers: label and spurious agree on 99% of faces. */
export const BIASED_TABLE = { '1,1': 10000, '0,0': 10000, '1,0': 100, '0,1': 100 };

function optimizerFor(model: Module, lr: number): Optimizer {
  return new AdamW(model.parameters(), { lr, weightDecay: 1e-4 });
}
export { optimizerFor };

function classifierTask(name: string, label: string, spurious: string | null, description: string, seed: number, steps = 200): DefaultTask {
  const data: DatasetOptions = spurious
    ? { label, spurious, table: BIASED_TABLE, seed, size: IMAGE_SIZE }
    : { label, spurious: 'hair_color=blond', n: 20200, balanced: true, seed, size: IMAGE_SIZE };
  let sampler: EpochSampler | null = null;
  return {
    name, kind: 'classifier', description, steps, batchSize: 32, seed, lr: 2e-3, ema: 0,
    build() {
      manualSeed(seed);
      const config = {
        model_type: 'small_convnet', image_size: IMAGE_SIZE, in_channels: 3, channels: [16, 32, 32], num_outputs: 2, head: 'pool', task: 'classes',
        labels: [`not ${label}`, label], cflens_label: label, cflens_spurious: spurious, cflens_train_table: spurious ? BIASED_TABLE : 'balanced',
      };
      return { model: new SmallConvNet(config as never), config };
    },
    loss(model, step) {
      sampler ??= new EpochSampler(data, this.batchSize);
      const b = sampler.batch(step);
      return crossEntropy((model as SmallConvNet).forward(images(b)), Int32Array.from(b.labels));
    },
  };
}

function multiclassTask(seed: number): DefaultTask {
  const attr = 'hair_color';
  const spec = ATTRIBUTES.find((s) => s.name === attr)!;
  const values = spec.kind === 'categorical' ? spec.values : [];
  return {
    name: 'hair_color', kind: 'multiclass', description: 'hair colour, 5 classes, trained on i.i.d. faces', steps: 200, batchSize: 32, seed, lr: 2e-3, ema: 0,
    build() {
      manualSeed(seed);
      const config = {
        model_type: 'small_convnet', image_size: IMAGE_SIZE, in_channels: 3, channels: [16, 32, 32], num_outputs: values.length, head: 'pool',
        task: 'classes', labels: [...values], cflens_attribute: attr,
      };
      return { model: new SmallConvNet(config as never), config };
    },
    loss(model, step) {
      const b = freshBatch(step, this.batchSize, seed, { size: IMAGE_SIZE });
      return crossEntropy((model as SmallConvNet).forward(images(b)), b.attributes.map((a) => values.indexOf(a.hair_color)));
    },
  };
}

function keypointTask(seed: number): DefaultTask {
  return {
    name: 'keypoints', kind: 'keypoints', description: 'five facial keypoints (eyes, nose tip, mouth corners), coordinates / image size',
    steps: 300, batchSize: 32, seed, lr: 2e-3, ema: 0,
    build() {
      manualSeed(seed);
      const config = {
        model_type: 'small_convnet', image_size: IMAGE_SIZE, in_channels: 3, channels: [16, 32, 32], num_outputs: 2 * KEYPOINT_NAMES.length,
        head: 'flatten', task: 'keypoints', labels: KEYPOINT_NAMES.flatMap((k) => [`${k}.x`, `${k}.y`]),
      };
      return { model: new SmallConvNet(config as never), config };
    },
    loss(model, step) {
      const b = freshBatch(step, this.batchSize, seed, { size: IMAGE_SIZE });
      const target = fromArray(b.keypoints.map((v) => v / IMAGE_SIZE), [b.indices.length, 2 * KEYPOINT_NAMES.length]);
      return mseLoss((model as SmallConvNet).forward(images(b)), target);
    },
  };
}

function segmenterTask(seed: number): DefaultTask {
  return {
    name: 'segmenter', kind: 'segmenter', description: `per-pixel classes: ${MASK_CLASSES.join(', ')}`, steps: 600, batchSize: 16, seed, lr: 2e-3, ema: 0,
    build() {
      manualSeed(seed);
      const config = {
        model_type: 'small_segmenter', image_size: IMAGE_SIZE, in_channels: 3, channels: [16, 32, 32], num_classes: MASK_CLASSES.length,
        labels: [...MASK_CLASSES],
      };
      return { model: new SmallSegmenter(config as never), config };
    },
    loss(model, step) {
      const b = freshBatch(step, this.batchSize, seed, { size: IMAGE_SIZE });
      return crossEntropy((model as SmallSegmenter).forward(images(b)), Int32Array.from(b.masks));
    },
  };
}

export const DDPM_SCHEDULER_CONFIG = {
  _class_name: 'DDIMScheduler', num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear',
  clip_sample: true, set_alpha_to_one: true, steps_offset: 0, prediction_type: 'epsilon',
} as const;

function ddpmTask(seed: number): DefaultTask {
  const scheduler = new DDIMScheduler({ ...DDPM_SCHEDULER_CONFIG });
  return {
    name: 'ddpm', kind: 'ddpm', description: 'DDPM UNet2DModel on 32×32 toy faces in [-1, 1], ε-prediction, linear betas, EMA weights',
    steps: 1500, batchSize: 16, seed, lr: 5e-4, ema: 0.995,
    build() {
      manualSeed(seed);
      const config = {
        _class_name: 'UNet2DModel', sample_size: IMAGE_SIZE, in_channels: 3, out_channels: 3, block_out_channels: [16, 32, 64],
        down_block_types: ['DownBlock2D', 'DownBlock2D', 'AttnDownBlock2D'], up_block_types: ['AttnUpBlock2D', 'UpBlock2D', 'UpBlock2D'],
        layers_per_block: 1, norm_num_groups: 8, attention_head_dim: 32, act_fn: 'silu', flip_sin_to_cos: true, freq_shift: 0,
      };
      return { model: new UNet2DModel(config), config, files: { 'scheduler_config.json': JSON.stringify(DDPM_SCHEDULER_CONFIG, null, 1) } };
    },
    loss(model, step) {
      const B = this.batchSize;
      const b = freshBatch(step, B, seed, { size: IMAGE_SIZE, range: 'pm1' });
      const rng = new Rng(hashSeed(seed, step, 7));
      const ts = Array.from({ length: B }, () => rng.int(1000));
      const x0 = images(b);
      const eps = randn(x0.shape, { seed: hashSeed(seed, step, 11) });
      const sa = fromArray(ts.map((t) => Math.sqrt(scheduler.alphasCumprod[t])), [B, 1, 1, 1]);
      const sb = fromArray(ts.map((t) => Math.sqrt(1 - scheduler.alphasCumprod[t])), [B, 1, 1, 1]);
      return mseLoss((model as UNet2DModel).forward(add(mul(x0, sa), mul(eps, sb)), ts), eps);
    },
  };
}

/** CLIP on the world: its own BPE vocabulary, learned from the world's captions. */
export function worldTokenizer(seed = 0): CLIPTokenizer {
  const rng = new Rng(hashSeed(seed, 0xb9e));
  const texts: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const a = sampleAttributes(rng);
    texts.push(caption(a), trainingCaption(a, rng));
  }
  return CLIPTokenizer.fromMerges(learnClipBpe(texts, 200));
}

export const CLIP_CONTEXT = 48;

export function clipWorldConfig(vocabSize: number): CLIPConfig {
  return {
    projection_dim: 64, logit_scale_init_value: 2.6592,
    text_config: {
      vocab_size: vocabSize, hidden_size: 64, intermediate_size: 256, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: CLIP_CONTEXT,
      layer_norm_eps: 1e-5, hidden_act: 'quick_gelu',
    },
    vision_config: {
      hidden_size: 64, intermediate_size: 256, num_hidden_layers: 2, num_attention_heads: 4, image_size: IMAGE_SIZE, patch_size: 4, num_channels: 3,
      layer_norm_eps: 1e-5, hidden_act: 'quick_gelu',
    },
  };
}

/** Token ids padded to the longest text of the batch (EOS pooling takes the largest id, the EOT). */
export function tokenizeBatch(tok: CLIPTokenizer, texts: readonly string[], contextLength = CLIP_CONTEXT): number[][] {
  const rows = texts.map((t) => tok.tokenize(t, { contextLength, truncate: true, pad: false }));
  const n = Math.max(...rows.map((r) => r.length));
  return rows.map((r) => [...r, ...new Array<number>(n - r.length).fill(0)]);
}

/** Fills CLIP's zero-initialised embeddings N(0, 0.02²)-like (uniform of that std), seeded. */
function initClipEmbeddings(m: CLIPModel, seed: number): void {
  noGrad(() => {
    const put = (t: Tensor, k: number) => {
      const r = tidy(() => mul(randn(t.shape, { seed: hashSeed(seed, k) }), 0.02));
      t.ctx.copyBuffer(r.buffer, 0, t.buffer, 0, t.size * 4);
      r.dispose();
    };
    put(m.text_model.embeddings.token_embedding.weight, 1);
    put(m.text_model.embeddings.position_embedding.weight, 2);
    put(m.vision_model.embeddings.position_embedding.weight, 3);
    put(m.vision_model.embeddings.class_embedding, 4);
  });
}

/** Rows (or columns, transposed) of a 0/1 matrix scaled to sum to one: soft contrastive targets. */
function normalizeRows(m: Float32Array, n: number, columns: boolean): Float32Array {
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += columns ? m[j * n + i] : m[i * n + j];
    for (let j = 0; j < n; j++) out[i * n + j] = (columns ? m[j * n + i] : m[i * n + j]) / s;
  }
  return out;
}

/**
 * CLIP in two phases, as LiT (Zhai et al., "LiT: Zero-Shot Transfer with Locked-image text Tuning",
 * 2022): a contrastive run from scratch on two CPU cores learns the background colour and little else
 * in 800 steps, because random text features give the image tower nothing to align with.
 *   1. The image tower learns the world's attributes: the first ATTRIBUTE_COLUMNS outputs of its projection
 *      are trained as one sigmoid per attribute value (attributeTargets).
 *   2. The image tower is locked; the text tower learns contrastively to meet it, on counterfactual
 *      pairs with soft targets (every caption that an image fits is a positive: a short caption such as
 *      "a face with red hair" fits many faces of a batch).
 */
export const CLIP_IMAGE_PHASE = 2 / 3;
/**
 * Loss weights of the image phase's columns: earrings (a 1–2 px gold dot at 32×32) learn slowest —
 * unweighted, the image tower read them at 61.5% after 2500 steps; weighted ×4, 99.5% after 3000.
 */
const IMAGE_PHASE_WEIGHTS: Readonly<Record<string, number>> = { earrings: 4 };

function clipTask(seed: number): DefaultTask {
  let tok: CLIPTokenizer | null = null;
  const imageSteps = (steps: number) => Math.round(CLIP_IMAGE_PHASE * steps);
  return {
    name: 'clip', kind: 'clip',
    description: 'CLIPModel (ViT 4×4 patches, 2+2 layers, width 64), LiT-style: image tower trained on the attribute labels (earrings weighted ×4), ' +
      'then locked while the text tower is trained contrastively on world image–caption pairs (counterfactual pairs, soft targets); pixels in [-1, 1]',
    steps: 4500, batchSize: 64, seed, lr: 1e-3, ema: 0,
    build() {
      manualSeed(seed);
      tok = worldTokenizer(seed);
      const config = clipWorldConfig(tok.vocabSize);
      const model = new CLIPModel(config);
      initClipEmbeddings(model, seed);
      const { vocabJson, mergesTxt } = tok.toHF();
      const json = {
        ...config, model_type: 'clip', cflens_pixel_range: 'pm1', cflens_context_length: CLIP_CONTEXT, cflens_attribute_columns: [...ATTRIBUTE_COLUMNS],
      };
      return { model, config: json, files: { 'vocab.json': vocabJson, 'merges.txt': mergesTxt } };
    },
    learningRate(step, steps) {
      const first = imageSteps(steps);
      return step < first ? learningRate(this.lr, step, first) : learningRate(this.lr, step - first, steps - first);
    },
    loss(model, step, steps) {
      tok ??= worldTokenizer(seed);
      const B = this.batchSize;
      const m = model as CLIPModel;
      if (step < imageSteps(steps)) {
        const b = freshBatch(step, B, seed, { size: IMAGE_SIZE, range: 'pm1' });
        const C = ATTRIBUTE_COLUMNS.length;
        const y = new Float32Array(B * C);
        b.attributes.forEach((a, i) => y.set(attributeTargets(a), i * C));
        const weight = fromArray(ATTRIBUTE_COLUMNS.map((c) => IMAGE_PHASE_WEIGHTS[c] ?? 1), [C]);
        return binaryCrossEntropyWithLogits(narrow(m.getImageFeatures(images(b)), 1, 0, C), fromArray(y, [B, C]), { weight });
      }
      const { batch: b, captions, mentions } = counterfactualPairs(step, B, seed, { size: IMAGE_SIZE, range: 'pm1' });
      const t = l2normalize(m.getTextFeatures(tokenizeBatch(tok, captions)));
      const v = noGrad(() => l2normalize(m.getImageFeatures(images(b))));
      // Fixed temperature 1/0.07; logit_scale stays at its init.
      const logits = mul(matmul(v, transpose(t, 0, 1)), 1 / 0.07);
      const fit = captionMatches(b.attributes, mentions);
      const toText = crossEntropy(logits, fromArray(normalizeRows(fit, B, false), [B, B]));
      const toImage = crossEntropy(transpose(logits, 0, 1), fromArray(normalizeRows(fit, B, true), [B, B]));
      return mul(add(toText, toImage), 0.5);
    },
  };
}

/**
 * All default models, in training order (CLIP before the DDPM: its image tower reads the DDPM's samples;
 * CLIP and world-sd's VAE before its UNet, which trains on both).
 */
export function defaultTasks(): DefaultTask[] {
  return [
    classifierTask(
      'smile_blond', 'smiling', 'hair_color=blond', 'smiling vs neutral, trained where 99% of smiling faces are blond and 99% of neutral ones are not', 101,
    ),
    classifierTask(
      'glasses_bluebg', 'glasses', 'background_color=blue',
      'glasses vs none, trained where 99% of faces with glasses are on a blue background and 99% without are not', 102,
    ),
    classifierTask(
      'smile_control', 'smiling', null, 'smiling vs neutral, trained on faces balanced over smiling × blond hair (the unbiased control)', 103, 600,
    ),
    multiclassTask(104),
    keypointTask(105),
    segmenterTask(106),
    clipTask(108),
    ddpmTask(109),
    worldSdVaeTask(110),
    worldSdUnetTask(111),
  ];
}
