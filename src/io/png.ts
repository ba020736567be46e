// Minimal PNG encoder (8-bit RGB, uncompressed "stored" deflate blocks), no dependencies, runs in
// browsers and Node. Files are larger than zlib-compressed ones but always valid.
import { crc32 } from './crc32.js';

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length; i++) {
    a = (a + bytes[i]) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** zlib stream of stored (uncompressed) deflate blocks. */
function zlibStored(data: Uint8Array): Uint8Array {
  const nBlocks = Math.max(1, Math.ceil(data.length / 65535));
  const out = new Uint8Array(2 + data.length + 5 * nBlocks + 4);
  let o = 0;
  out[o++] = 0x78;
  out[o++] = 0x01;
  for (let b = 0; b < nBlocks; b++) {
    const start = b * 65535;
    const len = Math.min(65535, data.length - start);
    out[o++] = b === nBlocks - 1 ? 1 : 0;
    out[o++] = len & 0xff;
    out[o++] = len >>> 8;
    out[o++] = ~len & 0xff;
    out[o++] = (~len >>> 8) & 0xff;
    out.set(data.subarray(start, start + len), o);
    o += len;
  }
  const ad = adler32(data);
  out[o++] = ad >>> 24;
  out[o++] = (ad >>> 16) & 0xff;
  out[o++] = (ad >>> 8) & 0xff;
  out[o++] = ad & 0xff;
  return out;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Encodes interleaved 8-bit RGB (width·height·3 bytes, row-major) as a PNG file. */
export function encodePng(rgb: Uint8Array, width: number, height: number): Uint8Array {
  if (rgb.length !== width * height * 3) throw new Error(`cflens: encodePng: expected ${width * height * 3} bytes, got ${rgb.length}`);
  const raw = new Uint8Array(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    raw[y * (1 + width * 3)] = 0; // filter: none
    raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (1 + width * 3) + 1);
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlibStored(raw)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Tiles CHW float images (all the same size, values in [0, 1], or [-1, 1] with `range: 'pm1'`)
 * into one interleaved RGB8 canvas: `cols` per row, each upscaled by `scale` (nearest), `pad`
 * pixels of `padValue` between tiles.
 */
export function tileImages(
  images: readonly Float32Array[],
  size: number,
  { cols = 8, scale = 1, pad = 2, padValue = 255, range = '01' }: { cols?: number; scale?: number; pad?: number; padValue?: number; range?: '01' | 'pm1' } = {},
): { rgb: Uint8Array; width: number; height: number } {
  const n = images.length;
  const c = Math.max(1, Math.min(cols, n));
  const rows = Math.max(1, Math.ceil(n / c));
  const tile = size * scale;
  const width = c * tile + (c + 1) * pad;
  const height = rows * tile + (rows + 1) * pad;
  const rgb = new Uint8Array(width * height * 3).fill(padValue);
  const hw = size * size;
  images.forEach((img, k) => {
    const ox = pad + (k % c) * (tile + pad);
    const oy = pad + Math.floor(k / c) * (tile + pad);
    for (let y = 0; y < tile; y++) {
      for (let x = 0; x < tile; x++) {
        const i = Math.floor(y / scale) * size + Math.floor(x / scale);
        const o = ((oy + y) * width + ox + x) * 3;
        for (let ch = 0; ch < 3; ch++) {
          let val = img[ch * hw + i];
          if (range === 'pm1') val = (val + 1) / 2;
          rgb[o + ch] = Math.max(0, Math.min(255, Math.round(val * 255)));
        }
      }
    }
  });
  return { rgb, width, height };
}
