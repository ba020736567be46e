// Datasets of toy faces with planted biases: P(label, spurious) given as a table of counts, every
// other attribute random. Attributes are sampled up front (cheap); images are rendered on demand,
// one batch or one chunk at a time, so 20k images never need to sit in memory at once.
import {
  caption, mergeConstraints, parseFeature, sampleAttributes,
  type Attributes, type Constraints, type Feature,
} from './attributes.js';
import { KEYPOINT_NAMES, render, renderInto, type RenderOptions, type RenderResult } from './render.js';
import { Rng, hashSeed } from './rng.js';

export interface DatasetOptions {
  /** Seed of everything: attribute sampling, order and each image's nuisance jitter. Default 0. */
  seed?: number;
  /** Image side (default 32). */
  size?: number;
  /** Nuisance jitter (default true). */
  jitter?: boolean;
  /** Pixel range of images (default '01'). */
  range?: '01' | 'pm1';
  /** The label feature, e.g. 'smiling' or 'hair_color=blond' (see parseFeature). */
  label?: string;
  /** The spurious feature, e.g. 'hair_blond', 'glasses', 'background_color=blue'. */
  spurious?: string;
  /**
   * Exact counts per cell. Keys are the cell's feature values joined by commas, label first:
   * {"1,1": 10000, "0,0": 10000, "1,0": 100, "0,1": 100}; with only `label`, keys "0" and "1".
   * Cells left out get 0 samples.
   */
  table?: Record<string, number>;
  /** Without `table`: the number of samples. */
  n?: number;
  /** Without `table`: split `n` equally over the cells of label × spurious (remainder to the first cells). Default false: i.i.d. */
  balanced?: boolean;
  /** Extra constraints applied to every sample (e.g. {hat: false}). */
  constraints?: Constraints;
  /** Shuffle the samples (default true); false keeps them grouped by cell in table order. */
  shuffle?: boolean;
}

/** A rendered batch; arrays are packed in the order of `indices`. */
export interface Batch {
  indices: Int32Array;
  size: number;
  /** [B, 3, size, size] floats. */
  images: Float32Array;
  /** [B, size, size] class ids (MASK_CLASSES). */
  masks: Uint8Array;
  /** [B, K, 2] pixel coordinates (KEYPOINT_NAMES). */
  keypoints: Float32Array;
  /** [B] 0/1 label feature (zeros without a label). */
  labels: Uint8Array;
  /** [B] 0/1 spurious feature (zeros without one). */
  spurious: Uint8Array;
  attributes: Attributes[];
  captions: string[];
}

/** A deterministic, lazily rendered set of toy faces. */
export class WorldDataset {
  readonly n: number;
  readonly size: number;
  readonly seed: number;
  readonly jitter: boolean;
  readonly range: '01' | 'pm1';
  readonly labelFeature: Feature | null;
  readonly spuriousFeature: Feature | null;
  /** Attributes of every sample. */
  readonly attributes: readonly Attributes[];
  /** 0/1 label and spurious feature per sample. */
  readonly labels: Uint8Array;
  readonly spurious: Uint8Array;
  /** Nuisance seed of each sample's render. */
  readonly renderSeeds: Uint32Array;

  constructor(opts: DatasetOptions = {}) {
    this.seed = opts.seed ?? 0;
    this.size = opts.size ?? 32;
    this.jitter = opts.jitter ?? true;
    this.range = opts.range ?? '01';
    this.labelFeature = opts.label ? parseFeature(opts.label) : null;
    this.spuriousFeature = opts.spurious ? parseFeature(opts.spurious) : null;
    const features = [this.labelFeature, this.spuriousFeature].filter((f): f is Feature => f !== null);
    const base = opts.constraints ?? {};
    const rng = new Rng(hashSeed(this.seed, 0x5eed));
    const attrs: Attributes[] = [];

    if (opts.table) {
      if (features.length === 0) throw new Error('cflens: world: makeDataset: a table needs a label (and optionally a spurious feature)');
      if (opts.spurious && !opts.label) throw new Error('cflens: world: makeDataset: a spurious feature needs a label');
      for (const [key, count] of Object.entries(opts.table)) {
        const bits = parseCell(key, features.length);
        if (!Number.isInteger(count) || count < 0) {
          throw new Error(`cflens: world: makeDataset: count of cell "${key}" must be a non-negative integer, got ${count}`);
        }
        const c = cellConstraints(features, bits, base, key);
        for (let i = 0; i < count; i++) attrs.push(sampleAttributes(rng, c));
      }
    } else {
      const n = opts.n ?? 0;
      if (!Number.isInteger(n) || n < 0) throw new Error(`cflens: world: makeDataset: n must be a non-negative integer, got ${opts.n}`);
      if (opts.balanced && features.length > 0) {
        const cells = 1 << features.length;
        for (let cell = 0; cell < cells; cell++) {
          const bits = Array.from({ length: features.length }, (_, j) => (cell >> (features.length - 1 - j)) & 1);
          const count = Math.floor(n / cells) + (cell < n % cells ? 1 : 0);
          const c = cellConstraints(features, bits, base, bits.join(','));
          for (let i = 0; i < count; i++) attrs.push(sampleAttributes(rng, c));
        }
      } else {
        for (let i = 0; i < n; i++) attrs.push(sampleAttributes(rng, base));
      }
    }
    if (opts.shuffle ?? true) rng.shuffle(attrs);
    this.attributes = attrs;
    this.n = attrs.length;
    this.labels = Uint8Array.from(attrs, (a) => (this.labelFeature?.test(a) ? 1 : 0));
    this.spurious = Uint8Array.from(attrs, (a) => (this.spuriousFeature?.test(a) ? 1 : 0));
    this.renderSeeds = Uint32Array.from(attrs, (_, i) => hashSeed(this.seed, 0x1e55, i));
  }

  /** Render options of sample i. */
  renderOptions(i: number): RenderOptions {
    this.check(i);
    return { size: this.size, seed: this.renderSeeds[i], jitter: this.jitter, range: this.range };
  }

  /** Renders sample i (image, mask, keypoints, caption). */
  get(i: number): RenderResult {
    return render(this.attributes[this.check(i)], this.renderOptions(i));
  }

  /**
   * Renders sample i with some attributes changed and the same nuisance seed: the exact counterfactual
   * of `get(i)` (pixels differ only in the changed attributes' regions).
   */
  counterfactual(i: number, changes: Partial<Attributes>): RenderResult {
    return render({ ...this.attributes[this.check(i)], ...changes }, this.renderOptions(i));
  }

  /** Renders the given samples into one packed batch. */
  batch(indices: ArrayLike<number>): Batch {
    const B = indices.length;
    const s = this.size;
    const hw = s * s;
    const K = KEYPOINT_NAMES.length;
    const out: Batch = {
      indices: Int32Array.from(indices),
      size: s,
      images: new Float32Array(B * 3 * hw),
      masks: new Uint8Array(B * hw),
      keypoints: new Float32Array(B * K * 2),
      labels: new Uint8Array(B),
      spurious: new Uint8Array(B),
      attributes: [],
      captions: [],
    };
    for (let b = 0; b < B; b++) {
      const i = this.check(indices[b]);
      const a = this.attributes[i];
      renderInto(a, this.renderOptions(i), {
        image: out.images.subarray(b * 3 * hw, (b + 1) * 3 * hw),
        mask: out.masks.subarray(b * hw, (b + 1) * hw),
        keypoints: out.keypoints.subarray(b * K * 2, (b + 1) * K * 2),
      });
      out.labels[b] = this.labels[i];
      out.spurious[b] = this.spurious[i];
      out.attributes.push(a);
      out.captions.push(caption(a));
    }
    return out;
  }

  /** The whole dataset as one batch (3·size²·4 bytes per image: 245 MB for 20k at 32×32; prefer `chunks`). */
  all(): Batch {
    return this.batch(Array.from({ length: this.n }, (_, i) => i));
  }

  /** Consecutive batches covering the dataset in order (the last one may be shorter). */
  *chunks(chunkSize = 1024): Generator<Batch> {
    if (!(chunkSize >= 1)) throw new Error(`cflens: world: chunks: chunkSize must be ≥ 1, got ${chunkSize}`);
    for (let start = 0; start < this.n; start += chunkSize) {
      const end = Math.min(this.n, start + chunkSize);
      yield this.batch(Array.from({ length: end - start }, (_, k) => start + k));
    }
  }

  /** Counts per cell "label,spurious" (or "label" without a spurious feature). */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < this.n; i++) {
      const key = this.spuriousFeature ? `${this.labels[i]},${this.spurious[i]}` : `${this.labels[i]}`;
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  }

  /** Indices of the samples in one cell, e.g. cell("1,0") = the minority "label 1 without the spurious feature". */
  cell(key: string): number[] {
    const bits = parseCell(key, this.spuriousFeature ? 2 : 1);
    const out: number[] = [];
    for (let i = 0; i < this.n; i++) {
      if (this.labels[i] === bits[0] && (bits.length < 2 || this.spurious[i] === bits[1])) out.push(i);
    }
    return out;
  }

  private check(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.n) throw new Error(`cflens: world: sample index ${i} out of range [0, ${this.n})`);
    return i;
  }
}

function parseCell(key: string, nFeatures: number): number[] {
  const bits = key.split(',').map((s) => s.trim());
  if (bits.length !== nFeatures || bits.some((b) => b !== '0' && b !== '1')) {
    throw new Error(`cflens: world: cell "${key}" must be ${nFeatures} comma-separated 0/1 values (label${nFeatures > 1 ? ',spurious' : ''})`);
  }
  return bits.map(Number);
}

function cellConstraints(features: Feature[], bits: number[], base: Constraints, key: string): Constraints {
  let c = base;
  try {
    features.forEach((f, j) => {
      c = mergeConstraints(c, f.constraint(bits[j] === 1));
    });
  } catch (e) {
    throw new Error(`cflens: world: cell "${key}" is impossible: ${(e as Error).message}`);
  }
  return c;
}

/**
 * Makes a dataset. Balanced or deliberately biased, e.g. the Waterbirds-style
 * `makeDataset({ label: 'smiling', spurious: 'hair_blond', table: {"1,1": 10000, "0,0": 10000, "1,0": 100, "0,1": 100}, seed: 1 })`.
 */
export function makeDataset(opts: DatasetOptions): WorldDataset {
  return new WorldDataset(opts);
}
