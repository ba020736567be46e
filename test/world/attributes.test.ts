import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTES, Rng, caption, decodeAttributes, encodeAttributes, oneHotAttributes, oneHotNames, parseFeature, sampleAttributes, withAttributes,
  type Attributes,
} from '../../src/world/index.js';

const samples = (n: number, seed: number): Attributes[] => {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => sampleAttributes(r));
};

describe('world attributes', () => {
  it('has at least eight attributes of all three kinds', () => {
    expect(ATTRIBUTES.length).toBeGreaterThanOrEqual(8);
    const kinds = new Set(ATTRIBUTES.map((s) => s.kind));
    expect(kinds).toEqual(new Set(['binary', 'categorical', 'continuous']));
    for (const s of ATTRIBUTES) {
      if (s.kind !== 'continuous') expect(s.words.length).toBe(s.values.length);
    }
  });

  it('samples every value, deterministically, honouring constraints', () => {
    const xs = samples(3000, 1);
    expect(samples(5, 1)).toEqual(xs.slice(0, 5));
    for (const s of ATTRIBUTES) {
      if (s.kind === 'continuous') {
        const v = xs.map((a) => a[s.name] as number);
        expect(Math.min(...v)).toBeGreaterThanOrEqual(s.range[0]);
        expect(Math.max(...v)).toBeLessThan(s.range[1]);
      } else {
        for (const val of s.values) {
          const frac = xs.filter((a) => a[s.name] === val).length / xs.length;
          expect(Math.abs(frac - 1 / s.values.length)).toBeLessThan(0.05);
        }
      }
    }
    const r = new Rng(3);
    for (let i = 0; i < 200; i++) {
      const a = sampleAttributes(r, { hair_color: ['red', 'grey'], glasses: true, brightness: { min: 0.5 }, light_direction: 0.25 });
      expect(['red', 'grey']).toContain(a.hair_color);
      expect(a.glasses).toBe(true);
      expect(a.brightness).toBeGreaterThanOrEqual(0.5);
      expect(a.light_direction).toBe(0.25);
    }
    // a constraint on one attribute does not shift the draws of the others
    const free = sampleAttributes(new Rng(9));
    const fixed = sampleAttributes(new Rng(9), { glasses: !free.glasses });
    expect({ ...fixed, glasses: free.glasses }).toEqual(free);
    expect(() => sampleAttributes(new Rng(1), { hair_color: 'purple' as never })).toThrow(/hair_color/);
  });

  it('encodes and decodes', () => {
    for (const a of samples(50, 2)) {
      const v = encodeAttributes(a);
      expect(v.length).toBe(ATTRIBUTES.length);
      const back = decodeAttributes(v);
      expect({ ...back, brightness: 0, light_direction: 0 }).toEqual({ ...a, brightness: 0, light_direction: 0 });
      expect(back.brightness).toBeCloseTo(a.brightness, 6);
      const oh = oneHotAttributes(a);
      expect(oh.length).toBe(oneHotNames().length);
      expect(oh[oneHotNames().indexOf(`hair_color=${a.hair_color}`)]).toBe(1);
    }
  });

  it('captions mention each attribute correctly', () => {
    for (const a of samples(300, 4)) {
      const c = caption(a);
      expect(c).toContain(`${a.hair_color} hair`);
      expect(c).toContain(`${a.eye_color} eyes`);
      expect(c).toContain(`${a.skin_tone} skin`);
      expect(c).toContain(`${a.face_shape} face`);
      expect(c.startsWith(`a ${a.smiling ? 'smiling' : 'neutral'} `)).toBe(true);
      expect(c.includes('glasses')).toBe(a.glasses);
      expect(/\ba hat\b/.test(c)).toBe(a.hat);
      expect(c.includes('beard')).toBe(a.beard);
      expect(c.includes('earrings')).toBe(a.earrings);
      const pat = { plain: 'plain', stripes: 'striped', dots: 'dotted' }[a.background_pattern];
      expect(c).toContain(a.background_pattern === 'plain' ? `plain ${a.background_color} background` : `${a.background_color} ${pat} background`);
      const b = a.brightness < -1 / 3 ? 'dimly' : a.brightness > 1 / 3 ? 'brightly' : 'evenly';
      const d = a.light_direction < -1 / 3 ? 'left' : a.light_direction > 1 / 3 ? 'right' : 'front';
      expect(c).toContain(`${b} lit from the ${d}`);
    }
    const a = withAttributes(samples(1, 5)[0], {
      smiling: true, glasses: true, hat: false, beard: false, earrings: false, hair_color: 'red', face_shape: 'oval',
      eye_color: 'blue', skin_tone: 'light', background_color: 'blue', background_pattern: 'stripes', brightness: 0, light_direction: 0,
    });
    expect(caption(a)).toBe(
      'a smiling oval face with red hair, blue eyes and light skin, wearing glasses, on a blue striped background, evenly lit from the front',
    );
  });

  it('parses features', () => {
    for (const s of ['hair_blond', 'blond_hair', 'hair_color=blond', 'hair_color:blond']) expect(parseFeature(s).key).toBe('hair_color=blond');
    expect(parseFeature('glasses').key).toBe('glasses');
    expect(parseFeature('background_blue').key).toBe('background_color=blue');
    expect(parseFeature('brightness>0').key).toBe('brightness>0');
    const a = samples(1, 6)[0];
    const f = parseFeature('hair_color=red');
    expect(f.test({ ...a, hair_color: 'red' })).toBe(true);
    expect(f.test({ ...a, hair_color: 'grey' })).toBe(false);
    expect(() => parseFeature('hair_purple')).toThrow(/cannot parse/);
    expect(() => parseFeature('brightness')).toThrow(/continuous/);
  });
});
