// Evaluation of the shipped default models (the f16 files, loaded as a user would): held-out accuracy,
// bias-conflicting accuracy, keypoint error, segmentation IoU, CLIP zero-shot accuracy per attribute,
// attribute frequencies of DDPM samples. Each also records a fixed small batch's figure, which the
// tests reproduce from the shipped files.
import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { fromArray, randn } from '../ops/creation.js';
import { CLIPModel, l2normalize } from '../models/clip/clip-model.js';
import { UNet2DModel } from '../models/diffusers/unet-2d.js';
import { SmallConvNet, SmallSegmenter } from '../models/small/convnet.js';
import type { WeightsDir } from '../models/weights-dir.js';
import type { CLIPTokenizer } from '../io/clip-tokenizer.js';
import { loadTokenizer, readJsonFile } from '../models/pretrained.js';
import { DDIMScheduler } from '../schedulers/ddim.js';
import { ddimSampleUnconditional } from '../pipelines/sampling.js';
import { matmul } from '../ops/matmul.js';
import { mseLoss } from '../ops/loss.js';
import { add, mul } from '../ops/elementwise.js';
import { transpose } from '../ops/shape.js';
import { attributeSpec, type AttributeName, type Attributes } from '../world/attributes.js';
import { WorldDataset, type Batch } from '../world/dataset.js';
import { MASK_CLASSES } from '../world/render.js';
import { ATTRIBUTE_GROUPS, type AttributeReading } from '../world/attribute-columns.js';
import { clipAttributeReader, type AttributeReader } from '../diagnosis/attribute-reader.js';
import { Rng, hashSeed } from '../world/rng.js';
import { encodePng, tileImages } from '../io/png.js';
import { defaultTasks, IMAGE_SIZE, tokenizeBatch, type DefaultTask } from './tasks.js';

export type Metrics = Record<string, unknown>;
export type Opener = (name: string) => string | WeightsDir;

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

/** Loads and evaluates every shipped default model found under `open`. */
export async function evaluateDefaults(
  dir: string,
  o: { only?: string[]; log?: (s: string) => void; open?: Opener; writeFile?: (name: string, bytes: Uint8Array) => Promise<void> } = {},
): Promise<Metrics> {
  const open: Opener = o.open ?? ((name) => `${dir}/${name}`);
  const tasks = defaultTasks();
  const models: Metrics = {};
  for (const task of tasks) {
    if (o.only && !o.only.includes(task.name)) continue;
    o.log?.(`evaluating ${task.name}`);
    let m: Metrics;
    if (task.kind === 'classifier') m = await withModel(await SmallConvNet.fromPretrained(open(task.name)), (x) => evaluateClassifier(x, task));
    else if (task.kind === 'multiclass') m = await withModel(await SmallConvNet.fromPretrained(open(task.name)), (x) => evaluateMulticlass(x, task));
    else if (task.kind === 'keypoints') m = await withModel(await SmallConvNet.fromPretrained(open(task.name)), (x) => evaluateKeypoints(x, task));
    else if (task.kind === 'segmenter') m = await withModel(await SmallSegmenter.fromPretrained(open(task.name)), (x) => evaluateSegmenter(x, task));
    else if (task.kind === 'clip') {
      const loc = open(task.name);
      const tok = await loadTokenizer(loc);
      m = await withModel(await CLIPModel.fromPretrained(loc), (x) => evaluateClip(x, tok, task));
    } else {
      const clip = await CLIPModel.fromPretrained(open('clip')).catch((e: Error) => {
        throw new Error(`cflens: evaluating the DDPM needs the world CLIP, whose image tower reads the samples (train it first): ${e.message}`);
      });
      clip.eval();
      const unet = await UNet2DModel.fromPretrained(open(task.name));
      const r = await evaluateDdpm(unet, new DDIMScheduler(await readJsonFile(open(task.name), 'scheduler_config.json')), clipAttributeReader(clip), task);
      unet.dispose();
      clip.dispose();
      const { grid, ...rest } = r;
      await o.writeFile?.(`${task.name}/samples.png`, grid);
      m = rest;
    }
    models[task.name] = { kind: task.kind, description: task.description, ...m };
    o.log?.(`  ${JSON.stringify(m)}`);
  }
  return { version: 1, imageSize: IMAGE_SIZE, evalSeed: EVAL_SEED, models };
}

async function withModel<M extends { eval(): unknown; dispose(): void }>(m: M, f: (m: M) => Promise<Metrics>): Promise<Metrics> {
  m.eval();
  try {
    return await f(m);
  } finally {
    m.dispose();
  }
}
