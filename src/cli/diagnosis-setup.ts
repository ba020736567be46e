// What every `cflens diagnose` method loads: the target (a default model's name or a folder), the
// generator (the world DDPM, world-sd, or a diffusers folder given by path), the world CLIP with its
// tokenizer, the attribute bank, and the world faces to explain.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tensor } from '../autograd/tensor.js';
import type { Module } from '../nn/module.js';
import { CLIPModel, SmallConvNet, SmallSegmenter, UNet2DModel } from '../models/index.js';
import { loadTokenizer, readConfig } from '../models/pretrained.js';
import { fsDir } from '../models/node/fs-dir.js';
import { DDIMScheduler } from '../schedulers/index.js';
import { StableDiffusionPipeline } from '../pipelines/stable-diffusion.js';
import { add, mul } from '../ops/elementwise.js';
import { bankFromList, parseBank, type AttributeBank } from '../diagnosis/bank.js';
import { ddpmHSpaceGenerator, latentHSpaceGenerator, type HSpaceGenerator } from '../diagnosis/generators.js';
import { classifierTarget, keypointTarget, segmenterTarget, type DiagnosisTarget } from '../diagnosis/targets.js';
import { promptFeatures } from '../diagnosis/clip-regularizer.js';
import type { Tokenize } from '../diagnosis/umo-analysis.js';
import { tokenizeBatch } from '../train/tasks.js';
import { attributeSpec, type AttributeName } from '../world/attributes.js';

/** A default model's name under `models`, or a folder path. */
export function modelFolder(models: string, nameOrDir: string): string {
  return nameOrDir.includes('/') || existsSync(join(nameOrDir, 'config.json')) ? nameOrDir : join(models, nameOrDir);
}

export interface LoadedTarget {
  target: DiagnosisTarget;
  module: Module;
  folder: string;
  config: Record<string, unknown>;
  /** World classifiers: the labelled attribute and the planted shortcut (from the config). */
  label: string | null;
  spurious: string | null;
}

/** The target model of a folder: world classifiers, keypoint regressors and segmenters (their inputs in [0, 1]). */
export async function loadTarget(models: string, nameOrDir: string): Promise<LoadedTarget> {
  const folder = modelFolder(models, nameOrDir);
  const config = await readConfig(fsDir(folder)).catch((e: Error) => {
    if (/is not valid JSON/.test(e.message)) throw e;
    throw new Error(`cflens diagnose: no target model at ${folder} (expected ${join(folder, 'config.json')}); ` +
      `give --target a folder, or a name under ${models} (run \`npm run train:defaults\` to make the defaults)`);
  });
  const from01 = (m: Module & { forward(x: Tensor): Tensor }) => (x: Tensor) => m.forward(mul(add(x, 1), 0.5)); // generators give [-1, 1]
  const name = nameOrDir.split('/').filter(Boolean).pop() ?? nameOrDir;
  let module: Module & { forward(x: Tensor): Tensor };
  let target: DiagnosisTarget;
  if (config.model_type === 'small_segmenter') {
    module = await SmallSegmenter.fromPretrained(folder);
    target = segmenterTarget(name, from01(module));
  } else if (config.model_type === 'small_convnet') {
    module = await SmallConvNet.fromPretrained(folder);
    target = config.task === 'keypoints' ? keypointTarget(name, from01(module)) : classifierTarget(name, from01(module));
  } else {
    throw new Error(`cflens diagnose: ${folder}: model_type '${String(config.model_type)}' is not a target cflens can load (small_convnet, small_segmenter)`);
  }
  module.freeze();
  return {
    target, module, folder, config,
    label: (config.cflens_label as string | undefined) ?? null, spurious: (config.cflens_spurious as string | null | undefined) ?? null,
  };
}

export interface LoadedGenerator { generator: HSpaceGenerator; name: string; dispose(): void }

/**
 * 'ddpm' (the world DDPM), 'world_sd' (the world's latent diffusion model, unconditional), or a folder:
 * a diffusers pipeline (model_index.json) or a UNet2DModel folder with scheduler_config.json.
 */
export async function loadGenerator(models: string, nameOrDir: string, o: { steps?: number; invertSteps?: number } = {}): Promise<LoadedGenerator> {
  const folder = modelFolder(models, nameOrDir);
  if (existsSync(join(folder, 'model_index.json'))) {
    const pipe = (await StableDiffusionPipeline.fromPretrained(folder)).freeze();
    const generator = latentHSpaceGenerator(pipe, o);
    return { generator, name: folder, dispose: () => { generator.dispose?.(); pipe.dispose(); } };
  }
  if (!existsSync(join(folder, 'config.json'))) {
    throw new Error(
      `cflens diagnose: no generator at ${folder}: give --generator ddpm, world_sd, or a diffusers folder (model_index.json, or a UNet2DModel's config.json)`,
    );
  }
  const unet = await UNet2DModel.fromPretrained(folder);
  unet.freeze();
  const scheduler = new DDIMScheduler(await readConfig(fsDir(folder), 'scheduler_config.json'));
  return { generator: ddpmHSpaceGenerator(unet, scheduler, o), name: folder, dispose: () => unet.dispose() };
}

export interface LoadedClip { clip: CLIPModel; tokenize: Tokenize; folder: string }

/** The world CLIP (its own BPE files beside the weights). */
export async function loadClip(models: string): Promise<LoadedClip> {
  const folder = join(models, 'clip');
  const clip = await CLIPModel.fromPretrained(folder);
  clip.freeze();
  const tok = await loadTokenizer(folder);
  return { clip, tokenize: (t) => tokenizeBatch(tok, t), folder };
}

/** --bank file, --attributes "a,b,c", or the world's bank. */
export async function loadBank(o: { bank?: string; attributes?: string }): Promise<AttributeBank> {
  if (o.attributes) return bankFromList(o.attributes, ['a face with {}']);
  const file = o.bank ?? new URL('../../data/banks/world.json', import.meta.url).pathname;
  return parseBank(await readFile(file, 'utf8'), file);
}

/**
 * Unit CLIP text features of the labelled attribute's values ("a face with glasses", "a face with no
 * glasses"), for L_CLIP; null when the label is not a world attribute.
 */
export function labelPrompts(c: LoadedClip, label: string | null): Tensor | null {
  if (!label) return null;
  const name = label.split('=')[0] as AttributeName;
  let words: readonly string[];
  try {
    words = attributeSpec(name).words;
  } catch {
    return null;
  }
  return promptFeatures(c.clip, c.tokenize(words.map((w) => `a face with ${w}`)));
}
