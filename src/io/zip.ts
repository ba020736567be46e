import type { ByteSource } from './byte-source.js';
import { WeightsFormatError } from './errors.js';

export interface ZipEntry { name: string; method: number; compressedSize: number; size: number; headerOffset: number }

const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const u64 = (b: Uint8Array, o: number) => u32(b, o) + u32(b, o + 4) * 2 ** 32;

/** The central directory of a zip archive (what torch.save writes: stored entries, maybe ZIP64). */
export async function readZipDirectory(src: ByteSource): Promise<Map<string, ZipEntry>> {
  const file = src.name;
  if (src.size < 22) throw new WeightsFormatError(file, 'bad-zip', `${src.size} bytes is too short for a zip archive`);
  const tailLen = Math.min(src.size, 22 + 65535 + 20);
  const tail = await src.read(src.size - tailLen, tailLen);
  let eocd = -1;
  for (let i = tail.byteLength - 22; i >= 0; i--) {
    if (u32(tail, i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new WeightsFormatError(file, 'bad-zip', 'no end-of-central-directory record: not a zip archive, or truncated');
  let count = u16(tail, eocd + 10);
  let cdSize = u32(tail, eocd + 12);
  let cdOffset = u32(tail, eocd + 16);
  if ((cdOffset === 0xffffffff || count === 0xffff || cdSize === 0xffffffff) && eocd >= 20 && u32(tail, eocd - 20) === 0x07064b50) {
    const z64at = u64(tail, eocd - 20 + 8);
    if (z64at + 56 > src.size) throw new WeightsFormatError(file, 'bad-zip', 'the ZIP64 record points past the end of the file');
    const z = await src.read(z64at, 56);
    if (u32(z, 0) !== 0x06064b50) throw new WeightsFormatError(file, 'bad-zip', 'bad ZIP64 end-of-central-directory record');
    count = u64(z, 32);
    cdSize = u64(z, 40);
    cdOffset = u64(z, 48);
  }
  if (cdOffset + cdSize > src.size || count > cdSize / 46 + 1) throw new WeightsFormatError(file, 'bad-zip', 'the central directory lies outside the file (truncated?)');
  const cd = await src.read(cdOffset, cdSize);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.byteLength || u32(cd, p) !== 0x02014b50) throw new WeightsFormatError(file, 'bad-zip', `central directory entry ${i} is damaged`);
    const method = u16(cd, p + 10);
    let compressedSize = u32(cd, p + 20);
    let size = u32(cd, p + 24);
    const nameLen = u16(cd, p + 28);
    const extraLen = u16(cd, p + 30);
    const commentLen = u16(cd, p + 32);
    let headerOffset = u32(cd, p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > cd.byteLength) throw new WeightsFormatError(file, 'bad-zip', `central directory entry ${i} runs past the directory`);
    const name = new TextDecoder().decode(cd.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 sizes and offsets live in extra field 0x0001, in this order, for the fields that overflowed.
    let e = p + 46 + nameLen;
    const end = e + extraLen;
    while (e + 4 <= end) {
      const id = u16(cd, e);
      const len = u16(cd, e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff && q + 8 <= e + 4 + len) { size = u64(cd, q); q += 8; }
        if (compressedSize === 0xffffffff && q + 8 <= e + 4 + len) { compressedSize = u64(cd, q); q += 8; }
        if (headerOffset === 0xffffffff && q + 8 <= e + 4 + len) { headerOffset = u64(cd, q); }
      }
      e += 4 + len;
    }
    entries.set(name, { name, method, compressedSize, size, headerOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** The bytes of one stored (uncompressed) entry. */
export async function readZipEntry(src: ByteSource, entry: ZipEntry): Promise<Uint8Array> {
  const file = src.name;
  if (entry.method !== 0) throw new WeightsFormatError(file, 'compressed', `zip entry ${entry.name} is compressed (method ${entry.method}); torch.save writes stored entries — re-save the checkpoint with torch.save`);
  if (entry.headerOffset + 30 > src.size) throw new WeightsFormatError(file, 'bad-zip', `zip entry ${entry.name} starts past the end of the file`);
  const h = await src.read(entry.headerOffset, 30);
  if (u32(h, 0) !== 0x04034b50) throw new WeightsFormatError(file, 'bad-zip', `zip entry ${entry.name} has no local header`);
  const start = entry.headerOffset + 30 + u16(h, 26) + u16(h, 28);
  if (start + entry.size > src.size) throw new WeightsFormatError(file, 'truncated', `zip entry ${entry.name} (${entry.size} bytes) runs past the end of the file`);
  return src.read(start, entry.size);
}
