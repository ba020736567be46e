import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ATTRIBUTES, render, sampleAttributes, Rng } from '../../src/world/index.js';
import { PNG } from 'pngjs';
import { encodePng, tileImages } from '../../src/io/png.js';
import { encodeRgbPng as encodeStored } from '../../src/io/browser/png-encode.js';
import { crc32 } from '../../src/io/crc32.js';

interface Bank {
  name: string;
  description: string;
  templates?: string[];
  groups: Record<string, string[]>;
  distractors?: string[];
}
const bank = (name: string): Bank => JSON.parse(readFileSync(new URL(`../../data/banks/${name}.json`, import.meta.url), 'utf8')) as Bank;

/** Walks a PNG's chunks, checking every CRC; returns the chunk types and the joined IDAT data. */
function chunks(png: Uint8Array): { types: string[]; idat: Buffer } {
  expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const dv = new DataView(png.buffer, png.byteOffset);
  let o = 8;
  const idat: Uint8Array[] = [];
  const types: string[] = [];
  while (o < png.length) {
    const len = dv.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    types.push(type);
    expect(dv.getUint32(o + 8 + len)).toBe(crc32(png.subarray(o + 4, o + 8 + len)));
    if (type === 'IDAT') idat.push(png.subarray(o + 8, o + 8 + len));
    o += 12 + len;
  }
  return { types, idat: Buffer.concat(idat) };
}

/** RGB bytes of a decoded PNG (pngjs decodes to RGBA). */
function decodeRgb(png: Uint8Array): { rgb: Uint8Array; width: number; height: number } {
  const img = PNG.sync.read(Buffer.from(png));
  const rgb = new Uint8Array(img.width * img.height * 3);
  for (let i = 0; i < img.width * img.height; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = img.data[i * 4 + c];
  return { rgb, width: img.width, height: img.height };
}

describe('world png', () => {
  const imgs = [0, 1, 2].map((i) => render(sampleAttributes(new Rng(i)), { size: 32, seed: i }).image);
  const { rgb, width, height } = tileImages(imgs, 32, { cols: 2, scale: 2, pad: 1 });

  it('tiles images into one canvas', () => {
    expect([width, height]).toEqual([2 * 64 + 3, 2 * 64 + 3]);
  });

  it('encodes (pngjs, in Node) a compressed PNG that decodes to the same pixels', () => {
    const png = encodePng(rgb, width, height);
    expect(chunks(png).types).toEqual(['IHDR', 'IDAT', 'IEND']);
    const back = decodeRgb(png);
    expect([back.width, back.height]).toEqual([width, height]);
    expect(Buffer.from(back.rgb).equals(Buffer.from(rgb))).toBe(true);
    // compressed: well under the raw size (the stored encoder's is raw + headers)
    expect(png.length).toBeLessThan(0.5 * rgb.length);
  });

  it('the browser encoder (stored deflate) decodes to the same pixels, rows unfiltered', () => {
    const png = encodeStored(rgb, width, height);
    const { types, idat } = chunks(png);
    expect(types).toEqual(['IHDR', 'IDAT', 'IEND']);
    const raw = inflateSync(idat);
    expect(raw.length).toBe(height * (1 + 3 * width));
    for (let y = 0; y < height; y++) expect(raw[y * (1 + 3 * width)]).toBe(0);
    expect(Buffer.from(decodeRgb(png).rgb).equals(Buffer.from(rgb))).toBe(true);
  });

  it('refuses a pixel buffer that does not match the size, naming both', () => {
    expect(() => encodePng(rgb.subarray(1), width, height)).toThrow(`expected ${width * height * 3} bytes, got ${rgb.length - 1}`);
    expect(() => encodePng(new Uint8Array(0), 0, 0)).toThrow(/positive integers, got 0x0/);
  });
});

describe('data/banks', () => {
  it('world.json lists exactly the caption words of every attribute, plus distractors', () => {
    const w = bank('world');
    expect(Object.keys(w.groups)).toEqual(ATTRIBUTES.map((s) => s.name));
    for (const s of ATTRIBUTES) expect(w.groups[s.name]).toEqual([...s.words]);
    const all = new Set(Object.values(w.groups).flat());
    expect(w.distractors!.length).toBeGreaterThanOrEqual(20);
    for (const d of w.distractors!) expect(all.has(d), d).toBe(false);
  });

  for (const name of ['world', 'faces', 'animals']) {
    it(`${name}.json is well formed with 50-150 unique words`, () => {
      const b = bank(name);
      expect(b.name).toBe(name);
      expect(b.description.length).toBeGreaterThan(10);
      const words = [...Object.values(b.groups).flat(), ...(b.distractors ?? [])];
      expect(words.length).toBeGreaterThanOrEqual(50);
      expect(words.length).toBeLessThanOrEqual(150);
      expect(new Set(words).size).toBe(words.length);
      for (const w of words) expect(w).toMatch(/^[a-z][a-z' -]*[a-z]$/);
      for (const t of b.templates ?? []) expect(t).toContain('{}');
    });
  }
});
