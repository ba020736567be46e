// Deterministic training batches from the world: batch `step` of a dataset is the same on every run,
// so a resumed training sees exactly the data an uninterrupted one would.
import { attributeWord, ATTRIBUTES, type Attributes, type AttributeName } from '../world/attributes.js';
import { WorldDataset, type Batch, type DatasetOptions } from '../world/dataset.js';
import { Rng, hashSeed } from '../world/rng.js';
import { otherValue } from '../world/counterfactual.js';

/** The side of the world images every default model is trained on. */
export const IMAGE_SIZE = 32;

/** Epoch-wise reshuffled batches of a fixed dataset. */
export class EpochSampler {
  readonly dataset: WorldDataset;
  private epoch = -1;
  private order: number[] = [];
  constructor(opts: DatasetOptions, readonly batchSize: number) {
    this.dataset = new WorldDataset(opts);
  }

  indices(step: number): number[] {
    const n = this.dataset.n;
    const out: number[] = [];
    for (let j = 0; j < this.batchSize; j++) {
      const k = step * this.batchSize + j;
      const e = Math.floor(k / n);
      if (e !== this.epoch) {
        this.epoch = e;
        this.order = new Rng(hashSeed(this.dataset.seed, e, 0x5eed)).shuffle(Array.from({ length: n }, (_, i) => i));
      }
      out.push(this.order[k % n]);
    }
    return out;
  }

  batch(step: number): Batch { return this.dataset.batch(this.indices(step)); }
}

/** Fresh i.i.d. faces for every step (generative models): a new dataset of `batchSize` per step. */
export function freshBatch(step: number, batchSize: number, seed: number, opts: Omit<DatasetOptions, 'seed' | 'n'> = {}): Batch {
  const ds = new WorldDataset({ ...opts, seed: hashSeed(seed, step), n: batchSize });
  return ds.all();
}

/**
 * A training caption: "a face with " and the phrases of a random subset of attributes in random
 * order (absent accessories as "no glasses"), so that single-attribute prompts are in distribution.
 */
export function trainingCaption(a: Attributes, rng: Rng, mustMention?: AttributeName): string {
  return captionOf(a, captionAttributes(rng, mustMention));
}

/** The attributes (in caption order) a training caption mentions: all with p 0.3, else 1–4, optionally including one. */
export function captionAttributes(rng: Rng, mustMention?: AttributeName): AttributeName[] {
  const names = rng.shuffle(ATTRIBUTES.map((s) => s.name));
  const k = rng.bool(0.3) ? names.length : 1 + rng.int(4);
  const chosen = names.slice(0, k);
  if (mustMention && !chosen.includes(mustMention)) chosen[rng.int(k)] = mustMention;
  return chosen;
}

export function captionOf(a: Attributes, names: readonly AttributeName[]): string {
  return `a face with ${names.map((n) => attributeWord(a, n)).join(', ')}`;
}

/**
 * Contrastive batches with hard negatives: n/2 fresh faces and, for each, its exact counterfactual with
 * one random attribute changed (same pose); both captions mention that attribute, so a batch cannot be
 * solved from a few easy attributes (background colour alone tells 64 random faces apart).
 */
export function counterfactualPairs(
  step: number, n: number, seed: number, opts: Omit<DatasetOptions, 'seed' | 'n'> = {},
): { batch: Batch; captions: string[]; mentions: AttributeName[][] } {
  const half = Math.floor(n / 2);
  const ds = new WorldDataset({ ...opts, seed: hashSeed(seed, step), n: half });
  const rng = new Rng(hashSeed(seed, step, 0xcf));
  const base = ds.all();
  const size = base.size;
  const per = 3 * size * size;
  const images = new Float32Array(2 * half * per);
  images.set(base.images);
  const captions: string[] = new Array(2 * half);
  const mentions: AttributeName[][] = new Array(2 * half);
  const attributes: Attributes[] = [...base.attributes];
  for (let i = 0; i < half; i++) {
    const a = ds.attributes[i];
    const spec = ATTRIBUTES[rng.int(ATTRIBUTES.length)];
    const change = otherValue(a, spec.name, rng);
    const cf = ds.counterfactual(i, change);
    images.set(cf.image, (half + i) * per);
    const names = captionAttributes(rng, spec.name);
    const b = { ...a, ...change } as Attributes;
    attributes.push(b);
    captions[i] = captionOf(a, names);
    captions[half + i] = captionOf(b, names);
    mentions[i] = mentions[half + i] = names;
  }
  return { batch: { ...base, indices: Int32Array.from({ length: 2 * half }, (_, i) => i), images, attributes, captions }, captions, mentions };
}

/**
 * Which images fit which captions: entry [i, j] is 1 when image i shows every attribute caption j
 * mentions, as caption j words it. A short caption ("a face with red hair") fits many faces of a
 * batch; treating those as negatives would teach the model to contradict the captions.
 */
export function captionMatches(attributes: readonly Attributes[], mentions: readonly (readonly AttributeName[])[]): Float32Array {
  const n = attributes.length;
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      m[i * n + j] = mentions[j].every((name) => attributeWord(attributes[i], name) === attributeWord(attributes[j], name)) ? 1 : 0;
    }
  }
  return m;
}
