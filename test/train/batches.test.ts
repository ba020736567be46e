import { describe, expect, it } from 'vitest';
import { captionMatches, counterfactualPairs, EpochSampler } from '../../src/train/world-batches.js';
import { ATTRIBUTES, attributeWord, otherValue, Rng, type Attributes } from '../../src/world/index.js';

describe('training batches', () => {
  it('counterfactual pairs differ in exactly one attribute, and both captions name it', () => {
    const { batch, captions } = counterfactualPairs(3, 16, 7, { size: 16 });
    expect(batch.indices.length).toBe(16);
    expect(batch.images.length).toBe(16 * 3 * 16 * 16);
    for (let i = 0; i < 8; i++) {
      const a = batch.attributes[i];
      const b = batch.attributes[8 + i];
      const diff = ATTRIBUTES.filter((s) => a[s.name] !== b[s.name]).map((s) => s.name);
      expect(diff, `pair ${i}`).toHaveLength(1);
      const name = diff[0];
      expect(captions[i]).toContain(attributeWord(a, name));
      expect(captions[8 + i]).toContain(attributeWord(b, name));
      expect(attributeWord(a, name)).not.toBe(attributeWord(b, name));
    }
    // deterministic per step
    expect(counterfactualPairs(3, 16, 7, { size: 16 }).captions).toEqual(captions);
  });

  it('captionMatches: an image fits a caption when it shows every attribute the caption mentions', () => {
    const { batch, captions, mentions } = counterfactualPairs(5, 16, 7, { size: 16 });
    const fit = captionMatches(batch.attributes, mentions);
    for (let i = 0; i < 16; i++) {
      expect(fit[i * 16 + i], `image ${i} fits its own caption`).toBe(1);
      for (let j = 0; j < 16; j++) {
        // the caption's phrases, looked up in image i's attributes
        const fits = mentions[j].every((n) => captions[j].includes(attributeWord(batch.attributes[i], n)));
        if (!fits) expect(fit[i * 16 + j], `image ${i}, caption ${j}`).toBe(0);
      }
      // a counterfactual differs in an attribute its pair's caption mentions: never a fit
      const pair = i < 8 ? i + 8 : i - 8;
      expect(fit[i * 16 + pair], `pair ${i}, ${pair}`).toBe(0);
    }
    const a = { smiling: true, glasses: false, hair_color: 'red' } as unknown as Attributes;
    const b = { smiling: true, glasses: true, hair_color: 'red' } as unknown as Attributes;
    expect(Array.from(captionMatches([a, b], [['smiling', 'hair_color'], ['glasses']]))).toEqual([1, 0, 1, 1]);
  });

  it('otherValue changes the value (a lighting change moves it to another third)', () => {
    const rng = new Rng(1);
    const a = { smiling: true, hair_color: 'red', brightness: 0.9 } as unknown as Attributes;
    expect(otherValue(a, 'smiling', rng)).toEqual({ smiling: false });
    for (let k = 0; k < 20; k++) expect(otherValue(a, 'hair_color', rng).hair_color).not.toBe('red');
    for (let k = 0; k < 20; k++) expect(otherValue(a, 'brightness', rng).brightness).toBeLessThan(1 / 3);
  });

  it('EpochSampler visits every sample once per epoch, reshuffled per epoch, the same on every run', () => {
    const s = new EpochSampler({ n: 10, seed: 2, size: 8 }, 5);
    const e0 = [...s.indices(0), ...s.indices(1)];
    const e1 = [...s.indices(2), ...s.indices(3)];
    expect([...e0].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...e1].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(e1).not.toEqual(e0);
    expect(new EpochSampler({ n: 10, seed: 2, size: 8 }, 5).indices(1)).toEqual(s.indices(1));
  });
});
