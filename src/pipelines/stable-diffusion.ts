import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { randn } from '../ops/creation.js';
import { div, mul } from '../ops/elementwise.js';
import { CLIPTokenizer } from '../io/clip-tokenizer.js';
import type { Module } from '../nn/module.js';
import { CLIPTextModel } from '../models/clip/clip-text-model.js';
import { AutoencoderKL } from '../models/diffusers/autoencoder-kl.js';
import { UNet2DConditionModel } from '../models/diffusers/unet-2d-condition.js';
import { readConfig, readJsonFile, resolveDir, type LoadOptions } from '../models/pretrained.js';
import { subfolder, type WeightsDir } from '../models/weights-dir.js';
import { DDIM_SPEC, type SchedulerConfigJson } from '../schedulers/config.js';
import { DDIMScheduler } from '../schedulers/ddim.js';
import { nullTextInversion, type NullTextOptions, type NullTextResult } from './null-text.js';
import { ddimInvert, ddimSample, type DdimSampleOptions, type DdimSampleResult, type PerStep } from './sampling.js';

const PIPELINE_CLASS = 'StableDiffusionPipeline';

/** model_index.json's entries cflens loads, with the [library, class] pairs each may name. */
const COMPONENTS = {
  unet: [['diffusers', 'UNet2DConditionModel']],
  vae: [['diffusers', 'AutoencoderKL']],
  text_encoder: [['transformers', 'CLIPTextModel']],
  tokenizer: [['transformers', 'CLIPTokenizer'], ['transformers', 'CLIPTokenizerFast']],
  scheduler: [['diffusers', '*Scheduler']],
} as const;
type ComponentName = keyof typeof COMPONENTS;

/** The tokenizer as the pipeline uses it: diffusers pads every prompt to the context length with the pad token. */
export interface PromptTokenizer {
  tokenizer: CLIPTokenizer;
  contextLength: number;
  padId: number;
}

export interface StableDiffusionComponents {
  unet: UNet2DConditionModel;
  vae: AutoencoderKL;
  textEncoder: CLIPTextModel;
  tokenizer: CLIPTokenizer | PromptTokenizer;
  /** A DDIMScheduler config (scheduler_config.json keys); default: DDIMScheduler's defaults. */
  schedulerConfig?: SchedulerConfigJson;
}

/** Either prompts (encoded here) or ready conditionings, which gradients then reach. */
export interface PromptInput {
  prompt?: string | readonly string[];
  /** Text conditioning [B, L, D], or one per step; instead of `prompt`. */
  cond?: PerStep;
  /** The prompts guidance moves away from (default ""). */
  negativePrompt?: string | readonly string[];
  /** Null-text conditioning, or one per step; instead of `negativePrompt`. */
  uncond?: PerStep;
}

export interface SDSampleOptions extends PromptInput, Omit<DdimSampleOptions, 'unet' | 'scheduler' | 'zT' | 'cond' | 'uncond' | 'seed'> {
  /** x_T; without it, standard normal noise from `seed`. */
  latents?: Tensor;
  /** Seeds x_T (randn with this seed) and, when eta > 0, the step noise (ddimSample's seed + 1). Default 0. */
  seed?: number;
  /** Image size in pixels when x_T is drawn here (default: the UNet's sample_size × the VAE's scale factor). */
  height?: number;
  width?: number;
}

export interface SDInvertOptions extends Omit<PromptInput, 'cond' | 'uncond'> {
  /** Pixels in [-1, 1] [B, 3, H, W], or their latent x_0 as `latents`. */
  image?: Tensor;
  latents?: Tensor;
  cond?: Tensor;
  uncond?: Tensor;
  steps: number;
  stopAfter?: number;
  /** Guidance during inversion (default 1: none, as null-text inversion inverts). */
  guidanceScale?: number;
}

/** `guidanceScale` is the sampling guidance ∅_t is optimised for (default 7.5); the inversion itself is unguided. */
export type SDNullTextOptions = Omit<SDInvertOptions, 'stopAfter' | 'guidanceScale'> & Omit<NullTextOptions, 'unet' | 'scheduler' | 'x0' | 'cond' | 'uncond'>;

const list = (p: string | readonly string[]): readonly string[] => (typeof p === 'string' ? [p] : p);
const batchOf = (c: PerStep): number => (Array.isArray(c) ? (c as Tensor[])[0] : (c as Tensor)).shape[0];
const tokenText = (v: unknown): string | undefined => {
  const s = typeof v === 'object' && v !== null ? (v as { content?: unknown }).content : v;
  return typeof s === 'string' ? s : undefined;
};
const bare = (e: unknown): string => (e instanceof Error ? e.message : String(e)).replace(/^cflens: /, '');

/**
 * Stable Diffusion 1.x/2.x from a diffusers pipeline folder (model_index.json beside unet/, vae/,
 * text_encoder/, tokenizer/, scheduler/). It wires the components to the loops of this folder —
 * ddimSample, ddimInvert, nullTextInversion — and implements none itself. Every method is
 * differentiable and reads nothing back. The folder's scheduler_config.json is always used as a
 * DDIMScheduler config, as the SD editing methods (null-text inversion, prompt-to-prompt) do.
 */
export class StableDiffusionPipeline {
  /**
   * Loads a pipeline folder: a path (Node) or a WeightsDir, e.g. memoryDir with files named
   * 'unet/config.json', … (see subfolder()). No safety checker or feature extractor is loaded.
   */
  static async fromPretrained(dir: string | WeightsDir, opts: Pick<LoadOptions, 'dtype'> = {}): Promise<StableDiffusionPipeline> {
    const root = typeof dir === 'string' ? dir : dir.name;
    const fail = (what: string): Error => new Error(`cflens: ${PIPELINE_CLASS} ${root}: ${what}`);
    let index: Record<string, unknown>;
    try {
      index = await readJsonFile(dir, 'model_index.json');
    } catch (e) {
      throw fail(
        `${bare(e)}. A diffusers pipeline folder has model_index.json beside unet/, vae/, text_encoder/, tokenizer/ and scheduler/ ` +
        `(diffusers' save_pretrained layout); a single model's folder loads with that model's fromPretrained`,
      );
    }
    checkIndex(index, fail);
    const loaded: Module[] = [];
    const load = async <T>(name: ComponentName, fn: (sub: string | WeightsDir) => Promise<T>): Promise<T> => {
      try {
        return await fn(subfolder(dir, name));
      } catch (e) {
        const [lib, cls] = index[name] as [string, string];
        throw fail(`cannot load ${name}/ (${lib} ${cls}, listed in model_index.json): ${bare(e)}`);
      }
    };
    const model = async <M extends Module>(name: ComponentName, fn: (sub: string | WeightsDir) => Promise<M>): Promise<M> => {
      const m = await load(name, fn);
      loaded.push(m);
      return m;
    };
    try {
      const unet = await model('unet', (d) => UNet2DConditionModel.fromPretrained(d, opts));
      const vae = await model('vae', (d) => AutoencoderKL.fromPretrained(d, opts));
      const textEncoder = await model('text_encoder', (d) => CLIPTextModel.fromPretrained(d, opts));
      const tokenizer = await load('tokenizer', async (d) => loadPromptTokenizer(await resolveDir(d), textEncoder.config.max_position_embeddings));
      const schedulerConfig = await load('scheduler', async (d) => {
        const c = ddimConfigOf(await readJsonFile(d, 'scheduler_config.json'));
        // Refused here, where the error can name the file, rather than at the first loop.
        new DDIMScheduler(c);
        return c;
      });
      const problem = mismatch(unet, vae, textEncoder);
      if (problem) throw fail(problem);
      return new StableDiffusionPipeline({ unet, vae, textEncoder, tokenizer, schedulerConfig });
    } catch (e) {
      for (const m of loaded) m.dispose();
      throw e;
    }
  }

  readonly unet: UNet2DConditionModel;
  readonly vae: AutoencoderKL;
  readonly textEncoder: CLIPTextModel;
  readonly tokenizer: PromptTokenizer;
  readonly schedulerConfig: SchedulerConfigJson;

  constructor(c: StableDiffusionComponents) {
    const problem = mismatch(c.unet, c.vae, c.textEncoder);
    if (problem) throw new Error(`cflens: ${PIPELINE_CLASS}: ${problem}`);
    this.unet = c.unet;
    this.vae = c.vae;
    this.textEncoder = c.textEncoder;
    this.tokenizer = c.tokenizer instanceof CLIPTokenizer
      ? { tokenizer: c.tokenizer, contextLength: c.textEncoder.config.max_position_embeddings, padId: c.tokenizer.eotId }
      : c.tokenizer;
    this.schedulerConfig = c.schedulerConfig ?? {};
  }

  /** Pixels per latent pixel: 2^(number of VAE blocks − 1) (8 for Stable Diffusion). */
  get vaeScaleFactor(): number { return 2 ** (this.vae.config.block_out_channels.length - 1); }

  /** Freezes the UNet, VAE and text encoder (eval, no parameter gradients): every diagnosis optimises inputs, not weights. */
  freeze(): this {
    for (const m of [this.unet, this.vae, this.textEncoder]) m.freeze();
    return this;
  }

  /** A fresh DDIMScheduler from the folder's config (each loop sets its own timesteps). */
  newScheduler(): DDIMScheduler { return new DDIMScheduler(this.schedulerConfig); }

  /** Token ids as diffusers makes them: truncated to the context length, padded to it with the pad token. */
  tokenize(prompts: string | readonly string[]): number[][] {
    const { tokenizer, contextLength, padId } = this.tokenizer;
    return list(prompts).map((p) => {
      const ids = tokenizer.tokenize(p, { contextLength, truncate: true, pad: false });
      return ids.concat(new Array<number>(contextLength - ids.length).fill(padId));
    });
  }

  /** The text encoder's last hidden state [B, L, D]: the UNet's conditioning. */
  encodePrompt(prompts: string | readonly string[]): Tensor {
    const ids = this.tokenize(prompts);
    if (!ids.length) throw new Error(`cflens: ${PIPELINE_CLASS}.encodePrompt: no prompts`);
    return tidy(() => this.textEncoder.forward(ids).lastHiddenState);
  }

  /** Pixels in [-1, 1] [B, 3, H, W] → latents: the VAE posterior's mean × scaling_factor. */
  encodeImage(pixels: Tensor): Tensor {
    const f = this.vaeScaleFactor;
    const [, ch, h, w] = pixels.shape;
    if (pixels.ndim !== 4 || ch !== this.vae.config.in_channels || h % f || w % f) {
      throw new Error(
        `cflens: ${PIPELINE_CLASS}.encodeImage: pixels of shape [${pixels.shape}]; the VAE takes [B, ${this.vae.config.in_channels}, H, W] ` +
        `with H and W multiples of ${f}`,
      );
    }
    return tidy(() => mul(this.vae.encode(pixels).mean, this.vae.scalingFactor));
  }

  /** Latents → pixels in about [-1, 1]: the VAE decoder after dividing by scaling_factor. */
  decodeLatents(latents: Tensor): Tensor {
    if (latents.ndim !== 4 || latents.shape[1] !== this.vae.config.latent_channels) {
      const want = `[B, ${this.vae.config.latent_channels}, h, w]`;
      throw new Error(`cflens: ${PIPELINE_CLASS}.decodeLatents: latents of shape [${latents.shape}]; the VAE takes ${want}`);
    }
    return tidy(() => this.vae.decode(div(latents, this.vae.scalingFactor)));
  }

  /**
   * DDIM sampling with classifier-free guidance ε(∅) + s·(ε(C) − ε(∅)) through ddimSample. Guidance runs
   * when guidanceScale > 1 (default 7.5), with `uncond` or the encoded negative prompts. Returns the
   * final latents (decode them with decodeLatents); what it made itself (x_T, encodings) is freed.
   */
  sample(o: SDSampleOptions): DdimSampleResult {
    const { prompt, cond, negativePrompt, uncond, latents, seed = 0, height, width, ...rest } = o;
    const guidanceScale = o.guidanceScale ?? 7.5;
    const own: Tensor[] = [];
    try {
      const c = cond ?? this.promptCond(prompt, 'sample', own);
      const b = batchOf(c);
      const u = uncond ?? (guidanceScale > 1 ? this.negativeCond(negativePrompt, b, own) : undefined);
      const zT = latents ?? this.noise(b, height, width, seed, own);
      if (zT.shape[0] !== b) throw new Error(`cflens: ${PIPELINE_CLASS}.sample: ${zT.shape[0]} latents for a batch of ${b} conditionings`);
      return ddimSample({ ...rest, unet: this.unet, scheduler: this.newScheduler(), zT, cond: c, uncond: u, guidanceScale, seed: seed + 1 });
    } finally {
      for (const t of own) t.dispose();
    }
  }

  /** DDIM inversion through ddimInvert: the trajectory [x_0, x_1, …] (x_0 is `latents`, or the encoded image). */
  invert(o: SDInvertOptions): Tensor[] {
    const own: Tensor[] = [];
    try {
      const { x0, cond, uncond } = this.inversionInputs(o, 'invert', own, (o.guidanceScale ?? 1) !== 1);
      const { steps, stopAfter, guidanceScale } = o;
      return ddimInvert({ unet: this.unet, scheduler: this.newScheduler(), x0, cond, uncond, steps, stopAfter, guidanceScale });
    } finally {
      for (const t of own) t.dispose();
    }
  }

  /** Null-text inversion (Mokady et al.) through nullTextInversion; ∅ starts from the negative prompt's encoding (default ""). */
  async nullTextInversion(o: SDNullTextOptions): Promise<NullTextResult> {
    const own: Tensor[] = [];
    try {
      const { x0, cond, uncond } = this.inversionInputs(o, 'nullTextInversion', own, true);
      return await nullTextInversion({ ...o, unet: this.unet, scheduler: this.newScheduler(), x0, cond, uncond: uncond! });
    } finally {
      for (const t of own) t.dispose();
    }
  }

  /** Frees the UNet, VAE and text encoder weights. */
  dispose(): void {
    this.unet.dispose();
    this.vae.dispose();
    this.textEncoder.dispose();
  }

  private promptCond(prompt: string | readonly string[] | undefined, method: string, own: Tensor[]): Tensor {
    if (prompt === undefined) throw new Error(`cflens: ${PIPELINE_CLASS}.${method}: give a prompt or a cond tensor`);
    const c = this.encodePrompt(prompt);
    own.push(c);
    return c;
  }

  private negativeCond(negative: string | readonly string[] | undefined, batch: number, own: Tensor[]): Tensor {
    const prompts = list(negative ?? '');
    if (prompts.length !== 1 && prompts.length !== batch) {
      throw new Error(`cflens: ${PIPELINE_CLASS}: ${prompts.length} negative prompts for a batch of ${batch}; give one or one per prompt`);
    }
    const u = this.encodePrompt(prompts.length === batch ? prompts : new Array<string>(batch).fill(prompts[0]));
    own.push(u);
    return u;
  }

  private noise(batch: number, height: number | undefined, width: number | undefined, seed: number, own: Tensor[]): Tensor {
    const f = this.vaeScaleFactor;
    const [h, w] = [height ?? this.unet.config.sample_size * f, width ?? this.unet.config.sample_size * f];
    if (h % f || w % f) throw new Error(`cflens: ${PIPELINE_CLASS}.sample: height ${h} and width ${w} must be multiples of the VAE's scale factor ${f}`);
    const z = randn([batch, this.unet.config.in_channels, h / f, w / f], { seed });
    own.push(z);
    return z;
  }

  private inversionInputs(o: SDInvertOptions, method: string, own: Tensor[], withUncond: boolean): { x0: Tensor; cond: Tensor; uncond?: Tensor } {
    if ((o.image === undefined) === (o.latents === undefined)) throw new Error(`cflens: ${PIPELINE_CLASS}.${method}: give either image or latents`);
    const x0 = o.latents ?? this.encodeImage(o.image!);
    const cond = o.cond ?? this.promptCond(o.prompt ?? '', method, own);
    const uncond = o.uncond ?? (withUncond ? this.negativeCond(o.negativePrompt, cond.shape[0], own) : undefined);
    return { x0, cond, uncond };
  }
}

/** Why these components do not fit together, or null. */
function mismatch(unet: UNet2DConditionModel, vae: AutoencoderKL, textEncoder: CLIPTextModel): string | null {
  const [u, v, t] = [unet.config, vae.config, textEncoder.config];
  if (u.in_channels !== v.latent_channels) {
    return `the UNet takes ${u.in_channels} latent channels (unet in_channels) but the VAE makes ${v.latent_channels} (vae latent_channels)`;
  }
  if (u.cross_attention_dim !== t.hidden_size) {
    return `the UNet attends to ${u.cross_attention_dim}-wide text states (unet cross_attention_dim) but the text encoder makes ${t.hidden_size} (hidden_size)`;
  }
  return null;
}

function checkIndex(index: Record<string, unknown>, fail: (what: string) => Error): void {
  if (index._class_name !== PIPELINE_CLASS) {
    throw fail(
      `model_index.json's _class_name is ${JSON.stringify(index._class_name)}; this loads '${PIPELINE_CLASS}' folders ` +
      '(Stable Diffusion 1.x/2.x: UNet2DConditionModel, AutoencoderKL, CLIPTextModel, CLIPTokenizer)',
    );
  }
  for (const [name, allowed] of Object.entries(COMPONENTS)) {
    const entry = index[name];
    const [lib, cls = ''] = Array.isArray(entry) ? entry.map(String) : [];
    const ok = allowed.some(([l, c]) => lib === l && (c.startsWith('*') ? cls.endsWith(c.slice(1)) : cls === c));
    if (!ok) {
      const want = allowed.map(([lib, cls]) => `["${lib}", "${cls}"]`).join(' or ');
      throw fail(`model_index.json's ${name} is ${JSON.stringify(entry) ?? 'missing'}; ${PIPELINE_CLASS} needs ${want}`);
    }
  }
}

/**
 * The folder's scheduler config as a DDIMScheduler config. A DDIM config is taken whole (DDIMScheduler
 * refuses keys it does not implement). Another scheduler's config gives its noise-schedule keys — those
 * DDIMScheduler has — and loses the rest (PNDM's skip_prk_steps, …), as diffusers'
 * DDIMScheduler.from_config(other.config) does.
 */
export function ddimConfigOf(json: SchedulerConfigJson): SchedulerConfigJson {
  if (json._class_name === undefined || json._class_name === 'DDIMScheduler') return json;
  return Object.fromEntries(Object.entries(json).filter(([k]) => k in DDIM_SPEC.keys));
}

async function loadPromptTokenizer(dir: WeightsDir, maxPositions: number): Promise<PromptTokenizer> {
  const files = await dir.list();
  for (const f of ['vocab.json', 'merges.txt']) {
    if (!files.includes(f)) throw new Error(`${dir.name} has no ${f}: the CLIP tokenizer needs vocab.json and merges.txt (transformers' layout)`);
  }
  const vocabJson = await dir.readText('vocab.json');
  const tokenizer = CLIPTokenizer.fromHF(vocabJson, await dir.readText('merges.txt'));
  const optional = async (f: string): Promise<Record<string, unknown>> => (files.includes(f) ? readConfig(dir, f) : {});
  const config = await optional('tokenizer_config.json');
  const special = await optional('special_tokens_map.json');
  // transformers' CLIPTokenizer pads with <|endoftext|> unless the folder names another pad token (SD 2.x: "!").
  const pad = tokenText(special.pad_token) ?? tokenText(config.pad_token) ?? '<|endoftext|>';
  const padId = pad === '<|endoftext|>' ? tokenizer.eotId : (JSON.parse(vocabJson) as Record<string, number>)[pad];
  if (padId === undefined) throw new Error(`${dir.name}: the pad token ${JSON.stringify(pad)} is not in vocab.json`);
  // model_max_length is 77 in SD's tokenizers; unset, transformers writes a huge number.
  const max = typeof config.model_max_length === 'number' ? config.model_max_length : maxPositions;
  return { tokenizer, contextLength: Math.min(max, maxPositions), padId };
}
