// Evaluation of the shipped default models (the f16 files, loaded as a user would): held-out accuracy,
// bias-conflicting accuracy, keypoint error, segmentation IoU, CLIP zero-shot accuracy per attribute,
// attribute frequencies of DDPM samples, world-sd's reconstructions and text-to-image accuracy. Each also
// records a fixed small batch's figure, which the tests reproduce from the shipped files.
import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { fromArray, randn } from '../ops/creation.js';
import { CLIPModel, l2normalize } from '../models/clip/clip-model.js';
import { AutoencoderKL } from '../models/diffusers/autoencoder-kl.js';
import { UNet2DModel } from '../models/diffusers/unet-2d.js';
import { SmallConvNet, SmallSegmenter } from '../models/small/convnet.js';
import type { CLIPTokenizer } from '../io/clip-tokenizer.js';
import { loadTokenizer, readJsonFile } from '../models/pretrained.js';
import { DDIMScheduler } from '../schedulers/ddim.js';
import { ddimSampleUnconditional } from '../pipelines/sampling.js';
import { StableDiffusionPipeline } from '../pipelines/stable-diffusion.js';
import { matmul } from '../ops/matmul.js';
import { mseLoss } from '../ops/loss.js';
import { add, clamp, mul } from '../ops/elementwise.js';
import { transpose } from '../ops/shape.js';
import { attributeSpec, type AttributeName, type Attributes } from '../world/attributes.js';
import { WorldDataset, type Batch } from '../world/dataset.js';
import { MASK_CLASSES } from '../world/render.js';
import { ATTRIBUTE_GROUPS, type AttributeReading } from '../world/attribute-columns.js';
import { clipAttributeReader, type AttributeReader } from '../diagnosis/attribute-reader.js';
import { Rng, hashSeed } from '../world/rng.js';
import { encodePng, tileImages } from '../io/png.js';
import { defaultTasks, folderOf, IMAGE_SIZE, tokenizeBatch, type DefaultTask, type Opener } from './tasks.js';
import { trainingCaption } from './world-batches.js';
import { latentDiffusionLoss, neededFolder, WORLD_CLIP, WORLD_SD } from './world-sd.js';

export type Metrics = Record<string, unknown>;
export type { Opener };

/** Where the tests re-check each model: the first FIXED images of its held-out set. */
export const FIXED = 32;
const EVAL_SEED = 0xe7a1;
const HELD_OUT = 400;

const images = (b: Batch) => fromArray(b.images, [b.indices.length, 3, b.size, b.size]);

async function outputs(run: (x: Tensor) => Tensor, ds: WorldDataset, indices: number[], chunk = 64): Promise<Float32Array[]> {
  const rows: Float32Array[] = [];
  for (let i = 0; i < indices.length; i += chunk) {
    const b = ds.batch(indices.slice(i, i + chunk));
    const y = noGrad(() => tidy(() => run(images(b))));
    const data = (await y.toArray()) as Float32Array;
    y.dispose();
    const per = data.length / b.indices.length;
    for (let j = 0; j < b.indices.length; j++) rows.push(data.slice(j * per, (j + 1) * per));
  }
  return rows;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const argmax = (r: ArrayLike<number>) => {
  let k = 0;
  for (let i = 1; i < r.length; i++) if (r[i] > r[k]) k = i;
  return k;
};
const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** Held-out set of a classifier task: balanced over its label × spurious cells. */
export function classifierHeldOut(config: Record<string, unknown>, seed: number): WorldDataset {
  return new WorldDataset({
    label: config.cflens_label as string, spurious: (config.cflens_spurious as string | null) ?? 'hair_color=blond', n: HELD_OUT, balanced: true,
    seed: hashSeed(EVAL_SEED, seed), size: IMAGE_SIZE,
  });
}

/** `limit` evaluates only the first images of the held-out set (the tests' fixed batch). */
export async function evaluateClassifier(model: SmallConvNet, task: DefaultTask, limit?: number): Promise<Metrics> {
  const ds = classifierHeldOut(model.config as unknown as Record<string, unknown>, task.seed);
  const rows = await outputs((x) => model.forward(x), ds, range(limit ?? ds.n));
  const correct = rows.map((r, i) => argmax(r) === ds.labels[i]);
  const cells: Record<string, number> = {};
  const acc = (all: number[]) => {
    const idx = all.filter((i) => i < rows.length);
    return round4(idx.filter((i) => correct[i]).length / idx.length);
  };
  for (const key of ['1,1', '0,0', '1,0', '0,1']) cells[key] = acc(ds.cell(key));
  return {
    heldOutAccuracy: acc(range(ds.n)),
    alignedAccuracy: acc([...ds.cell('1,1'), ...ds.cell('0,0')]),
    conflictingAccuracy: acc([...ds.cell('1,0'), ...ds.cell('0,1')]),
    cellAccuracy: cells,
    cells: 'label,spurious',
    fixedBatch: { n: FIXED, correct: correct.slice(0, FIXED).filter(Boolean).length },
  };
}

function iidHeldOut(seed: number, n = HELD_OUT): WorldDataset {
  return new WorldDataset({ n, seed: hashSeed(EVAL_SEED, seed), size: IMAGE_SIZE });
}

export async function evaluateMulticlass(model: SmallConvNet, task: DefaultTask, limit?: number): Promise<Metrics> {
  const ds = iidHeldOut(task.seed);
  const labels = model.config.labels ?? [];
  const attr = (model.config as unknown as Record<string, string>).cflens_attribute as keyof Attributes;
  const rows = await outputs((x) => model.forward(x), ds, range(limit ?? ds.n));
  const correct = rows.map((r, i) => labels[argmax(r)] === ds.attributes[i][attr]);
  return {
    heldOutAccuracy: round4(correct.filter(Boolean).length / rows.length),
    fixedBatch: { n: FIXED, correct: correct.slice(0, FIXED).filter(Boolean).length },
  };
}

export async function evaluateKeypoints(model: SmallConvNet, task: DefaultTask, limit?: number): Promise<Metrics> {
  const ds = iidHeldOut(task.seed);
  const rows = await outputs((x) => model.forward(x), ds, range(limit ?? ds.n));
  const err = rows.map((r, i) => {
    const kp = ds.get(i).keypoints;
    let e = 0;
    for (let k = 0; k < kp.length / 2; k++) e += Math.hypot(r[2 * k] * IMAGE_SIZE - kp[2 * k], r[2 * k + 1] * IMAGE_SIZE - kp[2 * k + 1]);
    return e / (kp.length / 2);
  });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { meanErrorPixels: round4(mean(err)), fixedBatch: { n: FIXED, meanErrorPixels: round4(mean(err.slice(0, FIXED))) } };
}

export async function evaluateSegmenter(model: SmallSegmenter, task: DefaultTask, limit?: number): Promise<Metrics> {
  const ds = iidHeldOut(task.seed, 128);
  const rows = await outputs((x) => model.forward(x), ds, range(limit ?? ds.n), 32);
  const C = MASK_CLASSES.length;
  const hw = IMAGE_SIZE * IMAGE_SIZE;
  const inter = new Array<number>(C).fill(0);
  const union = new Array<number>(C).fill(0);
  let right = 0;
  let fixedRight = 0;
  rows.forEach((r, i) => {
    const mask = ds.get(i).mask;
    for (let p = 0; p < hw; p++) {
      let k = 0;
      for (let c = 1; c < C; c++) if (r[c * hw + p] > r[k * hw + p]) k = c;
      const t = mask[p];
      if (k === t) {
        right++;
        inter[t]++;
        union[t]++;
        if (i < FIXED) fixedRight++;
      } else {
        union[t]++;
        union[k]++;
      }
    }
  });
  const iou = Object.fromEntries(MASK_CLASSES.map((name, c) => [name, union[c] ? round4(inter[c] / union[c]) : null]));
  const present = Object.values(iou).filter((v): v is number => v !== null);
  return {
    pixelAccuracy: round4(right / (rows.length * hw)), meanIoU: round4(present.reduce((a, b) => a + b, 0) / present.length), iou,
    fixedBatch: { n: FIXED, pixelAccuracy: round4(fixedRight / (FIXED * hw)) },
  };
}

/** Per-attribute accuracy of decoded attribute predictions against the truth. */
function attributeAccuracy(pred: AttributeReading[], truth: readonly Attributes[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const g of ATTRIBUTE_GROUPS) {
    out[g.attribute] = round4(pred.filter((p, i) => p[g.attribute] === truth[i][g.attribute as keyof Attributes]).length / pred.length);
  }
  return out;
}

/** Readings of a dataset's images (pixels in [-1, 1]) by the attribute reader, in chunks. */
async function readAll(reader: AttributeReader, ds: WorldDataset, n: number, chunk = 64): Promise<AttributeReading[]> {
  const out: AttributeReading[] = [];
  for (let i = 0; i < n; i += chunk) {
    const x = images(ds.batch(range(Math.min(chunk, n - i)).map((k) => i + k)));
    out.push(...(await reader.read(x)));
    x.dispose();
  }
  return out;
}

/** Zero-shot prompts of each attribute value: "a face with glasses" / "a face with no glasses". */
export function zeroShotPrompts(): { attribute: string; values: (string | boolean)[]; prompts: string[] }[] {
  return ATTRIBUTE_GROUPS.map((g) => {
    const words = attributeSpec(g.attribute as AttributeName).words; // in value order, as the groups' values
    return { attribute: g.attribute, values: [...g.values], prompts: g.values.map((_, k) => `a face with ${words[k]}`) };
  });
}

/** CLIP zero-shot predictions of every attribute for images (pixels in [-1, 1]). */
export async function clipZeroShot(
  model: CLIPModel, tok: CLIPTokenizer, pixels: (i: number, n: number) => Tensor, n: number,
): Promise<Record<string, string | boolean>[]> {
  const groups = zeroShotPrompts();
  const texts = groups.flatMap((g) => g.prompts);
  const tf = noGrad(() => tidy(() => l2normalize(model.getTextFeatures(tokenizeBatch(tok, texts)))));
  const out: Record<string, string | boolean>[] = [];
  for (let i = 0; i < n; i += 64) {
    const m = Math.min(64, n - i);
    const sims = noGrad(() => tidy(() => matmul(l2normalize(model.getImageFeatures(pixels(i, m))), transpose(tf, 0, 1))));
    const s = (await sims.toArray()) as Float32Array;
    sims.dispose();
    for (let j = 0; j < m; j++) {
      const row: Record<string, string | boolean> = {};
      let col = 0;
      for (const g of groups) {
        let best = 0;
        for (let k = 1; k < g.prompts.length; k++) if (s[j * texts.length + col + k] > s[j * texts.length + col + best]) best = k;
        row[g.attribute] = g.values[best];
        col += g.prompts.length;
      }
      out.push(row);
    }
  }
  tf.dispose();
  return out;
}

export async function evaluateClip(model: CLIPModel, tok: CLIPTokenizer, task: DefaultTask, limit?: number): Promise<Metrics> {
  const ds = new WorldDataset({ n: HELD_OUT, seed: hashSeed(EVAL_SEED, task.seed), size: IMAGE_SIZE, range: 'pm1' });
  const pred = await clipZeroShot(model, tok, (i, n) => images(ds.batch(range(n).map((k) => i + k))), limit ?? ds.n);
  // The attribute reader: the image tower's own reading (its projection's first outputs, trained as
  // attribute sigmoids in the first phase), also the ceiling of what the text tower can match.
  const read = await readAll(clipAttributeReader(model), ds, limit ?? ds.n);
  const truth = ds.attributes.slice(0, pred.length);
  return {
    zeroShotAccuracy: attributeAccuracy(pred, truth), prompts: 'a face with {value phrase}', readerAccuracy: attributeAccuracy(read, truth),
    fixedBatch: {
      n: FIXED, zeroShotAccuracy: attributeAccuracy(pred.slice(0, FIXED), truth.slice(0, FIXED)),
      readerAccuracy: attributeAccuracy(read.slice(0, FIXED), truth.slice(0, FIXED)),
    },
  };
}

/** The denoising loss of a fixed batch (fixed faces, noise and timesteps): reproducible from the shipped file. */
export async function ddpmFixedLoss(unet: UNet2DModel, scheduler: DDIMScheduler, n = 8): Promise<number> {
  const ds = new WorldDataset({ n, seed: hashSeed(EVAL_SEED, 1), size: IMAGE_SIZE, range: 'pm1' });
  const b = ds.all();
  const rng = new Rng(hashSeed(EVAL_SEED, 2));
  const ts = range(n).map(() => rng.int(1000));
  const l = noGrad(() => tidy(() => {
    const x0 = images(b);
    const eps = randn(x0.shape, { seed: hashSeed(EVAL_SEED, 3) });
    const sa = fromArray(ts.map((t) => Math.sqrt(scheduler.alphasCumprod[t])), [n, 1, 1, 1]);
    const sb = fromArray(ts.map((t) => Math.sqrt(1 - scheduler.alphasCumprod[t])), [n, 1, 1, 1]);
    return mseLoss(unet.forward(add(mul(x0, sa), mul(eps, sb)), ts), eps);
  }));
  const v = await l.item();
  l.dispose();
  return v;
}

/**
 * Samples of the unconditional UNet, pixels in [-1, 1], as one [n, 3, S, S] tensor: DDIM with `eta`
 * (1: ancestral, DDPM-like; 0: deterministic).
 */
export function sampleDdpm(unet: UNet2DModel, scheduler: DDIMScheduler, n: number, seed: number, steps = 25, eta = 0): Tensor {
  return noGrad(() => {
    const xT = randn([n, 3, IMAGE_SIZE, IMAGE_SIZE], { seed });
    const x = ddimSampleUnconditional({ unet, scheduler, xT, steps, eta, seed, checkpointSteps: false });
    xT.dispose();
    return x;
  });
}

type Frequencies = Record<string, number>;

/** Attribute-value frequencies of readings. */
function frequencies(pred: AttributeReading[]): Frequencies {
  const f: Frequencies = {};
  for (const g of ATTRIBUTE_GROUPS) for (const v of g.values) {
    const key = g.kind === 'binary' ? (v ? g.attribute : null) : `${g.attribute}=${v}`;
    if (key) f[key] = round4(pred.filter((q) => q[g.attribute] === v).length / pred.length);
  }
  return f;
}

const maxGap = (a: Frequencies, b: Frequencies) => round4(Object.keys(a).reduce((m, k) => Math.max(m, Math.abs(a[k] - b[k])), 0));

/**
 * The DDPM's samples against real faces, both read by the attribute reader (its own errors cancel): ancestral
 * sampling (η = 1, `ddimSteps`) is the headline and `samples.png`; deterministic DDIM (η = 0, 25
 * steps, what inversion-based editing uses) is recorded beside it.
 */
export async function evaluateDdpm(
  unet: UNet2DModel, scheduler: DDIMScheduler, reader: AttributeReader, task: DefaultTask, n = 64, ddimSteps = 100,
): Promise<Metrics & { grid: Uint8Array }> {
  const seed = hashSeed(EVAL_SEED, task.seed);
  const samples = sampleDdpm(unet, scheduler, n, seed, ddimSteps, 1);
  const host = (await samples.toArray()) as Float32Array;
  const fs = frequencies(await reader.read(samples));
  samples.dispose();
  const det = sampleDdpm(unet, scheduler, n, seed, 25, 0);
  const fd = frequencies(await reader.read(det));
  det.dispose();
  const real = new WorldDataset({ n, seed: hashSeed(EVAL_SEED, task.seed), size: IMAGE_SIZE, range: 'pm1' });
  const fr = frequencies(await readAll(reader, real, n));
  const frames = range(n).map((i) => host.slice(i * 3 * IMAGE_SIZE ** 2, (i + 1) * 3 * IMAGE_SIZE ** 2));
  const t = tileImages(frames, IMAGE_SIZE, { cols: 8, scale: 2, range: 'pm1' });
  return {
    samples: n, ddimSteps, eta: 1,
    sampleFrequencies: fs, realFrequencies: fr, maxFrequencyGap: maxGap(fs, fr),
    deterministic: { ddimSteps: 25, eta: 0, sampleFrequencies: fd, maxFrequencyGap: maxGap(fd, fr) },
    fixedBatch: { n: 8, denoisingLoss: round4(await ddpmFixedLoss(unet, scheduler)) },
    grid: encodePng(t.rgb, t.width, t.height),
  };
}

/** Held-out faces in [-1, 1] of a generative task. */
function pm1HeldOut(seed: number, n = HELD_OUT): WorldDataset {
  return new WorldDataset({ n, seed: hashSeed(EVAL_SEED, seed), size: IMAGE_SIZE, range: 'pm1' });
}

/** PSNR in dB of a reconstruction against its original, both in [-1, 1] (peak-to-peak 2: the same as on [0, 1]). */
function psnr(a: ArrayLike<number>, b: ArrayLike<number>, from: number, len: number): number {
  let se = 0;
  for (let i = from; i < from + len; i++) se += (a[i] - b[i]) ** 2;
  return 10 * Math.log10(4 / Math.max(se / len, 1e-12));
}

/** Per-attribute share of faces read the same in two readings. */
function preservation(a: AttributeReading[], b: AttributeReading[]): Record<string, number> {
  return Object.fromEntries(ATTRIBUTE_GROUPS.map((g) => [g.attribute, round4(a.filter((r, i) => r[g.attribute] === b[i][g.attribute]).length / a.length)]));
}

/**
 * world-sd's VAE on held-out faces, as the pipeline uses it (x → latent mean → decoder): mean PSNR of the
 * reconstructions (clamped to [-1, 1]) and, per attribute, the share of faces the attribute reader reads
 * the same before and after. `limit` evaluates only the first faces (the tests' fixed batch).
 */
export async function evaluateWorldSdVae(
  vae: AutoencoderKL, reader: AttributeReader, task: DefaultTask, limit?: number,
): Promise<Metrics & { grid: Uint8Array }> {
  const ds = pm1HeldOut(task.seed);
  const n = limit ?? ds.n;
  const per = 3 * IMAGE_SIZE * IMAGE_SIZE;
  const scores: number[] = [];
  const [orig, rec]: AttributeReading[][] = [[], []];
  const frames: Float32Array[] = [];
  for (let i = 0; i < n; i += 64) {
    const b = ds.batch(range(Math.min(64, n - i)).map((k) => i + k));
    const x = images(b);
    const y = noGrad(() => tidy(() => clamp(vae.decode(vae.encode(x).mean), -1, 1)));
    const host = (await y.toArray()) as Float32Array;
    for (let j = 0; j < b.indices.length; j++) scores.push(psnr(b.images, host, j * per, per));
    orig.push(...(await reader.read(x)));
    rec.push(...(await reader.read(y)));
    const shown = i === 0 ? Math.min(16, b.indices.length) : 0;
    for (let j = 0; j < shown; j++) frames.push(b.images.slice(j * per, (j + 1) * per), host.slice(j * per, (j + 1) * per));
    x.dispose();
    y.dispose();
  }
  const mean = (xs: number[]) => round4(xs.reduce((a, v) => a + v, 0) / xs.length);
  const kept = preservation(orig, rec);
  const t = tileImages(frames, IMAGE_SIZE, { cols: 8, scale: 2, range: 'pm1' });
  return {
    faces: n, psnr: mean(scores), minPsnr: round4(Math.min(...scores)), attributePreservation: kept,
    minAttributePreservation: Math.min(...Object.values(kept)), scalingFactor: vae.scalingFactor,
    fixedBatch: { n: FIXED, psnr: mean(scores.slice(0, FIXED)), attributePreservation: preservation(orig.slice(0, FIXED), rec.slice(0, FIXED)) },
    grid: encodePng(t.rgb, t.width, t.height),
  };
}

/** world-sd's denoising loss on a fixed batch (faces, captions, noise, timesteps), through the pipeline: reproducible from the shipped folder. */
export async function worldSdFixedLoss(pipe: StableDiffusionPipeline, n = 8): Promise<number> {
  const ds = new WorldDataset({ n, seed: hashSeed(EVAL_SEED, 1), size: IMAGE_SIZE, range: 'pm1' });
  const rng = new Rng(hashSeed(EVAL_SEED, 5));
  const captions = ds.attributes.map((a) => trainingCaption(a, rng));
  const ts = range(n).map(() => rng.int(1000));
  const alphas = pipe.newScheduler().alphasCumprod;
  const l = noGrad(() => tidy(() => latentDiffusionLoss(pipe, alphas, images(ds.all()), captions, ts, hashSeed(EVAL_SEED, 3))));
  const v = await l.item();
  l.dispose();
  return v;
}

export interface TextToImageOptions {
  /** Samples per prompt (default 4). */
  samplesPerPrompt?: number;
  /** DDIM steps (default 25) and guidance scale (default 5). */
  steps?: number;
  guidanceScale?: number;
  /** Only these attributes (default all). */
  attributes?: readonly string[];
  seed?: number;
}

/**
 * Text-to-image accuracy: for each attribute value, samples of "a face with {value phrase}" (the
 * zero-shot prompts) and the share the attribute reader reads as that value; per attribute, the mean
 * over its values. Also a grid of each prompt's first sample (rows: prompts in order).
 */
export async function textToImageAccuracy(
  pipe: StableDiffusionPipeline, reader: AttributeReader, o: TextToImageOptions = {},
): Promise<Metrics & { grid: Uint8Array }> {
  const { samplesPerPrompt: k = 4, steps = 25, guidanceScale = 5, seed = EVAL_SEED } = o;
  const jobs = zeroShotPrompts().filter((g) => !o.attributes || o.attributes.includes(g.attribute))
    .flatMap((g) => g.prompts.map((prompt, v) => ({ attribute: g.attribute, value: g.values[v], prompt })));
  const prompts = jobs.flatMap((j) => new Array<string>(k).fill(j.prompt));
  const readings: AttributeReading[] = [];
  const frames: Float32Array[] = [];
  const per = 3 * IMAGE_SIZE * IMAGE_SIZE;
  for (let i = 0; i < prompts.length; i += 64) {
    const chunk = prompts.slice(i, i + 64);
    const x = noGrad(() => tidy(() => {
      const { latents } = pipe.sample({ prompt: chunk, guidanceScale, steps, seed: hashSeed(seed, i), checkpointSteps: false });
      return clamp(pipe.decodeLatents(latents), -1, 1);
    }));
    readings.push(...(await reader.read(x)));
    const host = (await x.toArray()) as Float32Array;
    for (let j = 0; j < chunk.length; j++) if ((i + j) % k === 0) frames.push(host.slice(j * per, (j + 1) * per));
    x.dispose();
  }
  const perValue: Record<string, number> = {};
  const perAttribute: Record<string, number[]> = {};
  jobs.forEach((j, q) => {
    const share = readings.slice(q * k, (q + 1) * k).filter((r) => r[j.attribute] === j.value).length / k;
    perValue[`${j.attribute}=${String(j.value)}`] = round4(share);
    (perAttribute[j.attribute] ??= []).push(share);
  });
  const accuracy = Object.fromEntries(Object.entries(perAttribute).map(([a, xs]) => [a, round4(xs.reduce((s, v) => s + v, 0) / xs.length)]));
  const t = tileImages(frames, IMAGE_SIZE, { cols: 8, scale: 2, range: 'pm1' });
  return {
    samplesPerPrompt: k, ddimSteps: steps, guidanceScale, prompts: 'a face with {value phrase}',
    textToImageAccuracy: accuracy, textToImageByValue: perValue, grid: encodePng(t.rgb, t.width, t.height),
  };
}

/** world-sd's UNet through its pipeline: the fixed-batch denoising loss and text-to-image accuracy. */
export async function evaluateWorldSdUnet(
  pipe: StableDiffusionPipeline, reader: AttributeReader, task: DefaultTask, o: TextToImageOptions = {},
): Promise<Metrics & { grid: Uint8Array }> {
  const t2i = await textToImageAccuracy(pipe, reader, { seed: hashSeed(EVAL_SEED, task.seed), ...o });
  return { ...t2i, fixedBatch: { n: 8, denoisingLoss: round4(await worldSdFixedLoss(pipe)) } };
}

export interface EvaluateOptions {
  only?: string[];
  log?: (s: string) => void;
  open?: Opener;
  writeFile?: (name: string, bytes: Uint8Array) => Promise<void>;
  /** world-sd's text-to-image evaluation (default: 4 samples per prompt, 25 DDIM steps, guidance 5). */
  textToImage?: TextToImageOptions;
}

/** Loads and evaluates every shipped default model found under `open` (a task without a shipped folder is skipped unless `only` names it). */
export async function evaluateDefaults(dir: string, o: EvaluateOptions = {}): Promise<Metrics> {
  const open: Opener = o.open ?? ((folder) => `${dir}/${folder}`);
  const models: Metrics = {};
  for (const task of defaultTasks()) {
    if (o.only && !o.only.includes(task.name)) continue;
    if (!o.only && !(await readJsonFile(open(folderOf(task)), 'config.json').then(() => true, () => false))) {
      o.log?.(`${task.name}: not shipped (no ${folderOf(task)}/config.json): skipped; train it with --only ${task.name}`);
      continue;
    }
    o.log?.(`evaluating ${task.name}`);
    const { grid, ...m } = await evaluateTask(task, open, o);
    if (grid) await o.writeFile?.(GRIDS[task.kind] ?? `${folderOf(task)}/samples.png`, grid);
    models[task.name] = { kind: task.kind, description: task.description, ...m };
    o.log?.(`  ${JSON.stringify(m)}`);
  }
  return { version: 1, imageSize: IMAGE_SIZE, evalSeed: EVAL_SEED, models };
}

/** Where each kind's picture goes (default <folder>/samples.png). */
const GRIDS: Partial<Record<DefaultTask['kind'], string>> = {
  world_sd_vae: `${WORLD_SD}/reconstructions.png`, world_sd_unet: `${WORLD_SD}/samples.png`,
};

async function worldReader(open: Opener, forWhat: string): Promise<{ reader: AttributeReader; clip: CLIPModel }> {
  const clip = await CLIPModel.fromPretrained(await neededFolder(open, WORLD_CLIP, 'clip', forWhat));
  clip.eval();
  return { reader: clipAttributeReader(clip), clip };
}

async function evaluateTask(task: DefaultTask, open: Opener, o: EvaluateOptions): Promise<Metrics & { grid?: Uint8Array }> {
  const loc = open(folderOf(task));
  switch (task.kind) {
    case 'classifier': return withModel(await SmallConvNet.fromPretrained(loc), (x) => evaluateClassifier(x, task));
    case 'multiclass': return withModel(await SmallConvNet.fromPretrained(loc), (x) => evaluateMulticlass(x, task));
    case 'keypoints': return withModel(await SmallConvNet.fromPretrained(loc), (x) => evaluateKeypoints(x, task));
    case 'segmenter': return withModel(await SmallSegmenter.fromPretrained(loc), (x) => evaluateSegmenter(x, task));
    case 'clip': {
      const tok = await loadTokenizer(loc);
      return withModel(await CLIPModel.fromPretrained(loc), (x) => evaluateClip(x, tok, task));
    }
    case 'ddpm': {
      const clip = await CLIPModel.fromPretrained(open('clip')).catch((e: Error) => {
        throw new Error(`cflens: evaluating the DDPM needs the world CLIP, whose image tower reads the samples (train it first): ${e.message}`);
      });
      clip.eval();
      const unet = await UNet2DModel.fromPretrained(loc);
      try {
        return await evaluateDdpm(unet, new DDIMScheduler(await readJsonFile(loc, 'scheduler_config.json')), clipAttributeReader(clip), task);
      } finally {
        unet.dispose();
        clip.dispose();
      }
    }
    case 'world_sd_vae': {
      const { reader, clip } = await worldReader(open, 'evaluating world_sd_vae (the attribute reader)');
      try {
        return await withModel(await AutoencoderKL.fromPretrained(loc), (vae) => evaluateWorldSdVae(vae, reader, task));
      } finally {
        clip.dispose();
      }
    }
    case 'world_sd_unet': {
      const { reader, clip } = await worldReader(open, 'evaluating world_sd_unet (the attribute reader)');
      try {
        const pipe = await StableDiffusionPipeline.fromPretrained(open(WORLD_SD));
        try {
          return await evaluateWorldSdUnet(pipe, reader, task, o.textToImage);
        } finally {
          pipe.dispose();
        }
      } finally {
        clip.dispose();
      }
    }
  }
}

async function withModel<M extends { eval(): unknown; dispose(): void }>(m: M, f: (m: M) => Promise<Metrics>): Promise<Metrics> {
  m.eval();
  try {
    return await f(m);
  } finally {
    m.dispose();
  }
}
