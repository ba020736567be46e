import { describe, expect, it } from 'vitest';
import { KEYPOINT_NAMES, attributeRegion, makeDataset } from '../../src/world/index.js';

const TABLE = { '1,1': 300, '0,0': 300, '1,0': 7, '0,1': 5 };

describe('world dataset', () => {
  it('produces exactly the requested table of (label, spurious) counts', () => {
    const ds = makeDataset({ label: 'smiling', spurious: 'hair_blond', table: TABLE, seed: 1 });
    expect(ds.n).toBe(612);
    expect(ds.counts()).toEqual(TABLE);
    // labels agree with the attributes themselves
    const direct: Record<string, number> = {};
    for (const a of ds.attributes) {
      const key = `${a.smiling ? 1 : 0},${a.hair_color === 'blond' ? 1 : 0}`;
      direct[key] = (direct[key] ?? 0) + 1;
    }
    expect(direct).toEqual(TABLE);
    expect(ds.cell('1,0').every((i) => ds.attributes[i].smiling && ds.attributes[i].hair_color !== 'blond')).toBe(true);
    expect(ds.cell('1,0').length).toBe(7);
    // shuffled: the first 300 are not one cell
    expect(new Set(Array.from(ds.labels.slice(0, 300))).size).toBe(2);
    // other attributes stay random: glasses about half, non-blond hair spread over the other colours
    const glasses = ds.attributes.filter((a) => a.glasses).length / ds.n;
    expect(Math.abs(glasses - 0.5)).toBeLessThan(0.08);
    const nonBlond = new Set(ds.attributes.filter((a) => a.hair_color !== 'blond').map((a) => a.hair_color));
    expect(nonBlond.size).toBe(4);
  });

  it('supports other feature kinds, label-only tables, balanced and i.i.d. sets', () => {
    const ds = makeDataset({ label: 'glasses', spurious: 'brightness>0.2', table: { '1,1': 20, '0,0': 10, '0,1': 3 }, seed: 2 });
    expect(ds.counts()).toEqual({ '1,1': 20, '0,0': 10, '0,1': 3 });
    expect(ds.attributes.every((a, i) => (a.brightness >= 0.2) === (ds.spurious[i] === 1))).toBe(true);
    const lab = makeDataset({ label: 'background_color=blue', table: { 1: 4, 0: 6 }, seed: 3 });
    expect(lab.counts()).toEqual({ 1: 4, 0: 6 });
    const bal = makeDataset({ label: 'hat', spurious: 'eye_color=green', n: 10, balanced: true, seed: 4 });
    expect(bal.counts()).toEqual({ '0,0': 3, '0,1': 3, '1,0': 2, '1,1': 2 });
    const iid = makeDataset({ n: 50, seed: 5, constraints: { hat: false } });
    expect(iid.n).toBe(50);
    expect(iid.attributes.every((a) => !a.hat)).toBe(true);
    expect(() => makeDataset({ label: 'hair_color=blond', spurious: 'hair_color=red', table: { '1,1': 1 } })).toThrow(/impossible/);
    expect(() => makeDataset({ label: 'smiling', spurious: 'glasses', table: { '1': 1 } })).toThrow(/comma-separated/);
  });

  it('is deterministic and renders batches identical to single samples', () => {
    const opts = { label: 'smiling', spurious: 'glasses', table: { '1,1': 6, '0,0': 6, '1,0': 2, '0,1': 2 }, seed: 7, size: 32 };
    const a = makeDataset(opts);
    const b = makeDataset(opts);
    expect(b.attributes).toEqual(a.attributes);
    const idx = [3, 0, 15, 7];
    const batch = a.batch(idx);
    expect(Array.from(batch.indices)).toEqual(idx);
    expect(batch.images.length).toBe(4 * 3 * 32 * 32);
    expect(batch.keypoints.length).toBe(4 * KEYPOINT_NAMES.length * 2);
    expect(b.batch(idx).images).toEqual(batch.images);
    idx.forEach((i, k) => {
      const one = a.get(i);
      expect(batch.images.subarray(k * 3072, (k + 1) * 3072)).toEqual(one.image);
      expect(batch.masks.subarray(k * 1024, (k + 1) * 1024)).toEqual(one.mask);
      expect(batch.keypoints.subarray(k * 10, (k + 1) * 10)).toEqual(one.keypoints);
      expect(batch.labels[k]).toBe(a.labels[i]);
      expect(batch.captions[k]).toBe(one.caption);
    });
    // a different seed gives a different set
    expect(makeDataset({ ...opts, seed: 8 }).attributes).not.toEqual(a.attributes);
  });

  it('iterates in chunks covering every sample once', () => {
    const ds = makeDataset({ n: 23, seed: 9, size: 32, range: 'pm1' });
    const seen: number[] = [];
    const sizes: number[] = [];
    for (const b of ds.chunks(10)) {
      seen.push(...b.indices);
      sizes.push(b.labels.length);
      expect(b.images.every((x) => x >= -1 && x <= 1)).toBe(true);
    }
    expect(sizes).toEqual([10, 10, 3]);
    expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => i));
  });

  it('gives exact counterfactuals of a sample', () => {
    const ds = makeDataset({ n: 5, seed: 10, size: 32 });
    for (let i = 0; i < ds.n; i++) {
      const a = ds.attributes[i];
      const orig = ds.get(i).image;
      const cf = ds.counterfactual(i, { glasses: !a.glasses }).image;
      const region = attributeRegion('glasses', a, ds.renderOptions(i));
      let changed = 0;
      for (let c = 0; c < 3; c++) {
        for (let p = 0; p < 1024; p++) {
          if (orig[c * 1024 + p] !== cf[c * 1024 + p]) {
            changed++;
            expect(region[p]).toBe(1);
          }
        }
      }
      expect(changed).toBeGreaterThan(0);
    }
  });
});
