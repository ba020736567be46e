// A Stable Diffusion pipeline folder made of the reference fixtures (unet_cond_A, vae_A, clip_A's text
// tower, ddim_A's scheduler) and OpenAI's tokenizer files, read in place from ../shared and never copied.
import { existsSync, readFileSync } from 'node:fs';
import { bytesSource, SafetensorsFile, writeSafetensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { modelFixture } from './fixtures.js';
import { StableDiffusionPipeline } from '../../src/pipelines/stable-diffusion.js';
import { memoryDir } from '../../src/models/weights-dir.js';

export const TOKENIZER_DIR = new URL('../../../shared/fixtures/tokenizer/', import.meta.url).pathname;

export const MODEL_INDEX = {
  _class_name: 'StableDiffusionPipeline', _diffusers_version: '0.21.4',
  unet: ['diffusers', 'UNet2DConditionModel'], vae: ['diffusers', 'AutoencoderKL'], text_encoder: ['transformers', 'CLIPTextModel'],
  tokenizer: ['transformers', 'CLIPTokenizer'], scheduler: ['diffusers', 'PNDMScheduler'],
  safety_checker: [null, null], feature_extractor: [null, null], requires_safety_checker: false,
};
export const TOKENIZER_CONFIG = { model_max_length: 77, pad_token: '<|endoftext|>', bos_token: '<|startoftext|>', eos_token: '<|endoftext|>' };

/** clip_A's text tower as a Stable Diffusion text_encoder/ folder holds it: a flat CLIPTextConfig and the text_model.* tensors. */
export async function textEncoderFiles(
  edit: (t: Record<string, TensorToWrite>) => void = () => {}, config: Record<string, unknown> = {},
): Promise<{ 'config.json': string; 'model.safetensors': Uint8Array }> {
  const clip = modelFixture('clip_A');
  const st = await SafetensorsFile.open(bytesSource('clip_A', readFileSync(`${clip.dir}weights.safetensors`)));
  const tensors: Record<string, TensorToWrite> = {};
  for (const n of st.names().filter((k) => k.startsWith('text_model.'))) tensors[n] = await st.read(n);
  edit(tensors);
  const json = { architectures: ['CLIPTextModel'], model_type: 'clip_text_model', ...clip.config.text_config, ...config };
  return { 'config.json': JSON.stringify(json), 'model.safetensors': writeSafetensors(tensors) };
}

/** The files of the fixture pipeline folder, keyed as a memoryDir tree ('unet/config.json', ...). */
export async function fixturePipelineFiles(): Promise<Record<string, Uint8Array | string>> {
  if (!existsSync(TOKENIZER_DIR)) {
    throw new Error(`CLIP tokenizer files not found at ${TOKENIZER_DIR}: the tests need ../shared/fixtures/tokenizer beside the repo`);
  }
  const unet = modelFixture('unet_cond_A');
  const vae = modelFixture('vae_A');
  // SD 1.x ships a PNDM config; the pipeline takes its noise schedule as DDIM's and drops skip_prk_steps.
  const scheduler = { _class_name: 'PNDMScheduler', ...modelFixture('ddim_A').config.scheduler, skip_prk_steps: true };
  const te = await textEncoderFiles();
  return {
    'model_index.json': JSON.stringify(MODEL_INDEX),
    'unet/config.json': readFileSync(`${unet.dir}config.json`, 'utf8'),
    'unet/diffusion_pytorch_model.safetensors': readFileSync(`${unet.dir}weights.safetensors`),
    'vae/config.json': readFileSync(`${vae.dir}config.json`, 'utf8'),
    'vae/diffusion_pytorch_model.safetensors': readFileSync(`${vae.dir}weights.safetensors`),
    'text_encoder/config.json': te['config.json'],
    'text_encoder/model.safetensors': te['model.safetensors'],
    'tokenizer/vocab.json': readFileSync(`${TOKENIZER_DIR}vocab.json`, 'utf8'),
    'tokenizer/merges.txt': readFileSync(`${TOKENIZER_DIR}merges.txt`, 'utf8'),
    'tokenizer/tokenizer_config.json': JSON.stringify(TOKENIZER_CONFIG),
    'scheduler/scheduler_config.json': JSON.stringify(scheduler),
  };
}

/** The fixture pipeline loaded from memory, every weight frozen (the tests optimise inputs, never weights). */
export async function loadFixturePipeline(): Promise<StableDiffusionPipeline> {
  const pipe = await StableDiffusionPipeline.fromPretrained(memoryDir('sd', await fixturePipelineFiles()));
  pipe.freeze();
  return pipe;
}
