// PNG encoding in Node: pngjs (zlib-compressed, adaptive row filters).
import { PNG } from 'pngjs';

/** Interleaved 8-bit RGB (width·height·3 bytes) as a PNG file. */
export function encodeRgbPng(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const png = new PNG({ width, height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength);
  const file = PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false, deflateLevel: 9 });
  return new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
}
