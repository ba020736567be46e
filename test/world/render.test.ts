import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTES, KEYPOINT_NAMES, MASK, Rng, attributeRegion, nuisancePose, render, sampleAttributes, withAttributes,
  type AttributeSpec, type Attributes, type RenderOptions,
} from '../../src/world/index.js';

const bases = (n: number, seed: number): Attributes[] => {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => sampleAttributes(r));
};

/** Every other value of an attribute (continuous: two other points of the range). */
function alternatives(spec: AttributeSpec, a: Attributes): unknown[] {
  const v = a[spec.name];
  if (spec.kind === 'continuous') return [-0.9, 0.8].map((x) => (Math.abs(x - (v as number)) < 0.05 ? x - 0.3 : x));
  return (spec.values as readonly unknown[]).filter((x) => x !== v);
}

function changedPixels(x: Float32Array, y: Float32Array, size: number): Uint8Array {
  const hw = size * size;
  const out = new Uint8Array(hw);
  for (let c = 0; c < 3; c++) for (let i = 0; i < hw; i++) if (x[c * hw + i] !== y[c * hw + i]) out[i] = 1;
  return out;
}

const count = (m: Uint8Array): number => m.reduce((s, x) => s + x, 0);

describe('world render', () => {
  it('is deterministic: same inputs give identical bytes, other seeds differ', () => {
    const [a] = bases(1, 1);
    const r1 = render(a, { size: 32, seed: 5 });
    const r2 = render(a, { size: 32, seed: 5 });
    expect(Buffer.from(r1.image.buffer).equals(Buffer.from(r2.image.buffer))).toBe(true);
    expect(r1.mask).toEqual(r2.mask);
    expect(r1.keypoints).toEqual(r2.keypoints);
    const r3 = render(a, { size: 32, seed: 6 });
    expect(Buffer.from(r1.image.buffer).equals(Buffer.from(r3.image.buffer))).toBe(false);
    expect(r1.keypoints).not.toEqual(r3.keypoints);
    // without jitter the seed does not matter
    const n1 = render(a, { size: 32, seed: 5, jitter: false });
    const n2 = render(a, { size: 32, seed: 6, jitter: false });
    expect(n1.image).toEqual(n2.image);
  });

  it('produces valid images in both ranges and at larger sizes', () => {
    for (const a of bases(5, 2)) {
      for (const size of [32, 48, 64]) {
        const r = render(a, { size, seed: 3 });
        expect(r.image.length).toBe(3 * size * size);
        expect(r.mask.length).toBe(size * size);
        expect(r.keypoints.length).toBe(2 * KEYPOINT_NAMES.length);
        expect(r.image.every((x) => x >= 0 && x <= 1)).toBe(true);
        const p = render(a, { size, seed: 3, range: 'pm1' });
        for (let i = 0; i < p.image.length; i += 97) expect(p.image[i]).toBeCloseTo(2 * r.image[i] - 1, 6);
      }
    }
    expect(() => render(bases(1, 1)[0], { size: 4 })).toThrow(/size/);
  });

  // The central guarantee: changing one attribute changes pixels only inside its designed region.
  for (const spec of ATTRIBUTES) {
    it(`${spec.name} (${spec.kind}) changes only its region '${spec.region}'`, () => {
      const cases: RenderOptions[] = [
        { size: 32, jitter: false },
        { size: 32, seed: 11 },
        { size: 48, seed: 12 },
        { size: 64, jitter: false },
      ];
      let changedTotal = 0;
      let regionTotal = 0;
      let checked = 0;
      bases(6, 100).forEach((a, k) => {
        const opts = cases[k % cases.length];
        const size = opts.size!;
        const region = attributeRegion(spec.name, a, opts);
        const img = render(a, opts).image;
        for (const alt of alternatives(spec, a)) {
          const b = withAttributes(a, { [spec.name]: alt } as Partial<Attributes>);
          // the region does not depend on the attribute's own value
          expect(attributeRegion(spec.name, b, opts)).toEqual(region);
          const diff = changedPixels(img, render(b, opts).image, size);
          const outside: number[] = [];
          diff.forEach((d, i) => {
            if (d && !region[i]) outside.push(i);
          });
          expect(outside, `${spec.name}: ${String(a[spec.name])} → ${String(alt)} changed pixels outside '${spec.region}' (size ${size})`).toEqual([]);
          expect(count(diff), `${spec.name}: ${String(a[spec.name])} → ${String(alt)} changed nothing`).toBeGreaterThan(0);
          changedTotal += count(diff);
          regionTotal += count(region);
          checked++;
        }
      });
      expect(checked).toBeGreaterThan(0);
      if (spec.region === 'global') {
        expect(changedTotal / regionTotal).toBeGreaterThan(0.9);
      } else {
        // local attributes: the region is a proper part of the image, and a good part of it changes
        const [a] = bases(1, 7);
        const frac = count(attributeRegion(spec.name, a, { size: 32, jitter: false })) / (32 * 32);
        expect(frac).toBeLessThan(spec.region === 'background' ? 0.8 : 0.45);
        expect(changedTotal / regionTotal).toBeGreaterThan(0.05);
      }
    });
  }

  it('mask and keypoints agree with the drawing, with and without jitter', () => {
    const size = 32;
    bases(40, 3).forEach((a, k) => {
      const opts: RenderOptions = { size, seed: 1000 + k, jitter: k % 2 === 1 };
      const r = render(a, opts);
      const at = (j: number): number => r.mask[Math.floor(r.keypoints[2 * j + 1]) * size + Math.floor(r.keypoints[2 * j])];
      expect(at(0)).toBe(MASK.eyes);
      expect(at(1)).toBe(MASK.eyes);
      expect(at(2)).toBe(MASK.skin);
      // mouth corners: a mouth pixel within one pixel
      for (const j of [3, 4]) {
        const x = r.keypoints[2 * j];
        const y = r.keypoints[2 * j + 1];
        let near = false;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const xi = Math.floor(x + dx);
            const yi = Math.floor(y + dy);
            if (r.mask[yi * size + xi] === MASK.mouth) near = true;
          }
        }
        expect(near, `${KEYPOINT_NAMES[j]} of sample ${k}`).toBe(true);
      }
      // left is image-left, eyes above nose above mouth
      expect(r.keypoints[0]).toBeLessThan(r.keypoints[2]);
      expect(r.keypoints[3]).toBeLessThan(r.keypoints[5]);
      expect(r.keypoints[5]).toBeLessThan(r.keypoints[7]);
      // accessories and beard appear in the mask exactly when present
      const acc = r.mask.filter((m) => m === MASK.accessory).length;
      expect(acc > 0).toBe(a.glasses || a.hat || a.earrings);
      expect(r.mask.filter((m) => m === MASK.mouth).length).toBeGreaterThan(0);
      expect(r.mask.filter((m) => m === MASK.background).length).toBeGreaterThan(100);
    });
  });

  it('keypoints follow the nuisance pose', () => {
    const [a] = bases(1, 4);
    const size = 64;
    const ref = render(a, { size, jitter: false }).keypoints;
    for (let seed = 0; seed < 10; seed++) {
      const pose = nuisancePose(seed);
      const kp = render(a, { size, seed }).keypoints;
      const eyeDist = Math.hypot(kp[2] - kp[0], kp[3] - kp[1]);
      const refDist = Math.hypot(ref[2] - ref[0], ref[3] - ref[1]);
      expect(eyeDist / refDist).toBeCloseTo(pose.scale, 4);
      expect(Math.atan2(kp[3] - kp[1], kp[2] - kp[0])).toBeCloseTo(pose.rotation, 4);
      // centre of the frame maps to centre + translation
      const midRef = [(ref[0] + ref[2]) / 2 - size / 2, (ref[1] + ref[3]) / 2 - size / 2];
      const mid = [(kp[0] + kp[2]) / 2, (kp[1] + kp[3]) / 2];
      const c = Math.cos(pose.rotation);
      const s = Math.sin(pose.rotation);
      expect(mid[0]).toBeCloseTo(size * (0.5 + pose.tx) + pose.scale * (c * midRef[0] - s * midRef[1]), 3);
      expect(mid[1]).toBeCloseTo(size * (0.5 + pose.ty) + pose.scale * (s * midRef[0] + c * midRef[1]), 3);
    }
  });

  it('masks classes match the colour attributes', () => {
    // nearly every skin / hair / background-class pixel changes with skin tone / hair colour / background colour
    const size = 32;
    for (const a of bases(10, 5)) {
      const opts: RenderOptions = { size, jitter: false };
      const r = render(a, opts);
      const checks: [number, Partial<Attributes>][] = [
        [MASK.skin, { skin_tone: a.skin_tone === 'dark' ? 'light' : 'dark' }],
        [MASK.hair, { hair_color: a.hair_color === 'black' ? 'blond' : 'black' }],
        [MASK.background, { background_color: a.background_color === 'blue' ? 'yellow' : 'blue' }],
      ];
      for (const [cls, change] of checks) {
        const d = changedPixels(r.image, render(withAttributes(a, change), opts).image, size);
        let n = 0;
        let ch = 0;
        r.mask.forEach((m, i) => {
          if (m === cls) {
            n++;
            ch += d[i];
          }
        });
        expect(ch / n, `class ${cls} vs ${JSON.stringify(change)}`).toBeGreaterThan(0.97);
      }
    }
  });

});
