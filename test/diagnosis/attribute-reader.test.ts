// The one attribute reader: column names parse back into attribute groups, the world CLIP's image
// tower reads real faces and names exactly the attribute an exact counterfactual changed.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIPModel, clipConfig } from '../../src/index.js';
import { changedAttributes, clipAttributeReader, type AttributeReader } from '../../src/diagnosis/attribute-reader.js';
import { ATTRIBUTE_COLUMNS, ATTRIBUTE_GROUPS, attributeTargets, columnGroups, decodeColumns } from '../../src/world/attribute-columns.js';
import { WorldDataset } from '../../src/world/dataset.js';
import { otherValue } from '../../src/world/counterfactual.js';
import { Rng } from '../../src/world/rng.js';
import type { AttributeName, Attributes } from '../../src/world/attributes.js';
import { worldImages } from '../helpers/world-images.js';
import { setupGpu } from '../helpers/gpu.js';

describe('attribute columns', () => {
  it('parse back into binary and categorical groups, in order', () => {
    const g = columnGroups(['glasses', 'hair=red', 'hair=blond', 'hat']);
    expect(g).toEqual([
      { attribute: 'glasses', kind: 'binary', columns: [0], values: [false, true] },
      { attribute: 'hair', kind: 'categorical', columns: [1, 2], values: ['red', 'blond'] },
      { attribute: 'hat', kind: 'binary', columns: [3], values: [false, true] },
    ]);
    expect(() => columnGroups(['hat', 'hat'])).toThrow(/'hat' repeats/);
    expect(() => columnGroups(['hat=big', 'hat'])).toThrow(/mixes kinds/);
  });

  it("a face's targets decode back to the face", () => {
    const ds = new WorldDataset({ n: 20, seed: 5, size: 16 });
    for (const a of ds.attributes) {
      const logits = attributeTargets(a).map((v) => 2 * v - 1);
      const read = decodeColumns(logits);
      for (const g of ATTRIBUTE_GROUPS) expect(read[g.attribute], g.attribute).toBe(a[g.attribute as AttributeName]);
    }
    expect(ATTRIBUTE_GROUPS.map((g) => g.attribute)).toHaveLength(11);
  });
});

describe('clipAttributeReader', () => {
  let clip: CLIPModel;
  let reader: AttributeReader;
  beforeAll(async () => {
    await setupGpu();
    clip = await CLIPModel.fromPretrained(join('models/defaults', 'clip'));
    clip.eval();
    reader = clipAttributeReader(clip);
  });

  it('refuses a CLIP that was not trained to read attributes, saying why', () => {
    const plain = { config: clipConfig({ projection_dim: 8 }) } as CLIPModel;
    expect(() => clipAttributeReader(plain)).toThrow(/no cflens_attribute_columns/);
    const short = { config: { ...clipConfig({ projection_dim: 8 }), attribute_columns: ATTRIBUTE_COLUMNS } } as CLIPModel;
    expect(() => clipAttributeReader(short)).toThrow(/28 columns but the CLIP projection has 8 outputs/);
  });

  it('reads held-out faces and names exactly what an exact counterfactual changed', async () => {
    const ds = new WorldDataset({ n: 16, seed: 77, size: 32 });
    const rng = new Rng(3);
    const names: AttributeName[] = ['glasses', 'hat', 'hair_color', 'background_color', 'beard', 'skin_tone', 'eye_color', 'background_pattern'];
    const edited: Attributes[] = ds.attributes.map((a, i) => ({ ...a, ...otherValue(a, names[i % names.length], rng) }) as Attributes);
    const x = worldImages(ds.attributes);
    const y = worldImages(edited);
    const before = await reader.read(x);
    const after = await reader.read(y);
    let right = 0;
    for (let i = 0; i < ds.n; i++) {
      for (const g of ATTRIBUTE_GROUPS) if (before[i][g.attribute] === ds.attributes[i][g.attribute as AttributeName]) right++;
    }
    expect(right / (ds.n * ATTRIBUTE_GROUPS.length)).toBeGreaterThan(0.95);
    const exact = ds.attributes.filter((_, i) => changedAttributes(before[i], after[i]).join() === names[i % names.length]).length;
    expect(exact).toBeGreaterThanOrEqual(14);
    const l = reader.logits(x);
    expect(l.shape).toEqual([16, ATTRIBUTE_COLUMNS.length]);
    for (const t of [x, y, l]) t.dispose();
  }, 60_000);
});
