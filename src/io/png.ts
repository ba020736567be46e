// PNG files of images: tiling CHW float images into one RGB canvas, and encoding it (pngjs in Node,
// stored deflate blocks in browsers: the '#png-encode' seam).
import { encodeRgbPng } from '#png-encode';

/** Encodes interleaved 8-bit RGB (width·height·3 bytes, row-major) as a PNG file. */
export function encodePng(rgb: Uint8Array, width: number, height: number): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`cflens: encodePng: width and height must be positive integers, got ${width}x${height}`);
  }
  if (rgb.length !== width * height * 3) throw new Error(`cflens: encodePng: expected ${width * height * 3} bytes, got ${rgb.length}`);
  return encodeRgbPng(rgb, width, height);
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
