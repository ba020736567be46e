// The one attribute reader every report uses to say what an edit changed: the world CLIP's image
// tower, whose projection's first outputs were trained as one sigmoid per attribute value before its
// text tower was fitted to it (LiT's first phase). On 400 held-out faces it reads every binary
// attribute at ≥ 98.8% and every categorical one at ≥ 94% (models/defaults/README.md), where the
// small convnet probe it replaces read smiling at 55.8% and face shape at 46.3%.
import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import type { CLIPModel } from '../models/clip/clip-model.js';
import { narrow } from '../ops/shape.js';
import { columnGroups, decodeColumns, type AttributeReading, type ColumnGroup } from '../world/attribute-columns.js';
import { clipPixels } from './clip-regularizer.js';

export interface AttributeReader {
  /** What reads (named in reports). */
  readonly name: string;
  readonly groups: readonly ColumnGroup[];
  /** Column logits [N, C] of images [N, 3, H, W] in [-1, 1]; differentiable. */
  logits(x: Tensor): Tensor;
  /** Decoded readings of images in [-1, 1], one per image. */
  read(x: Tensor): Promise<AttributeReading[]>;
}

/** The reader of a CLIP whose config lists cflens_attribute_columns (the world CLIP). */
export function clipAttributeReader(clip: CLIPModel, name = 'CLIP image tower'): AttributeReader {
  const columns = clip.config.attribute_columns;
  if (!columns?.length) {
    throw new Error('cflens: this CLIP model cannot read attributes: its config.json has no cflens_attribute_columns ' +
      '(the names of the image projection outputs trained as attribute sigmoids); use the world CLIP (models/defaults/clip)');
  }
  if (columns.length > clip.config.projection_dim) {
    throw new Error(`cflens: cflens_attribute_columns lists ${columns.length} columns but the CLIP projection has ${clip.config.projection_dim} outputs`);
  }
  const groups = columnGroups(columns);
  const logits = (x: Tensor) => tidy(() => narrow(clip.getImageFeatures(clipPixels(clip, x)), 1, 0, columns.length));
  return {
    name, groups, logits,
    async read(x) {
      const l = noGrad(() => logits(x));
      const rows = Float32Array.from(await l.toArray());
      l.dispose();
      return Array.from({ length: x.shape[0] }, (_, i) => decodeColumns(rows, i * columns.length, groups));
    },
  };
}

/** Attributes read differently in two readings. */
export function changedAttributes(before: AttributeReading, after: AttributeReading): string[] {
  return Object.keys(before).filter((a) => before[a] !== after[a]);
}
