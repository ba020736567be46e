// Deterministic training batches from the world: batch `step` of a dataset is the same on every run,
// so a resumed training sees exactly the data an uninterrupted one would.
import { attributeWord, ATTRIBUTES, type Attributes, type AttributeName } from '../world/attributes.js';
import { WorldDataset, type Batch, type DatasetOptions } from '../world/dataset.js';
import { Rng, hashSeed } from '../world/rng.js';

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

/** The phrase CLIP learns for one attribute value, e.g. "glasses", "no glasses", "red hair", "dimly lit". */
export function attributePhrase(a: Attributes, name: AttributeName): string {
  return attributeWord(a, name);
}

/**
 * A training caption: "a face with " and the phrases of a random subset of attributes in random
 * order (absent accessories as "no glasses"), so that single-attribute prompts are in distribution.
 */
export function trainingCaption(a: Attributes, rng: Rng): string {
  const names = rng.shuffle(ATTRIBUTES.map((s) => s.name));
  const k = rng.bool(0.3) ? names.length : 1 + rng.int(4);
  return `a face with ${names.slice(0, k).map((n) => attributePhrase(a, n)).join(', ')}`;
}
