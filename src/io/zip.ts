import type { ByteSource } from './byte-source.js';
import { crc32 } from './crc32.js';
import { WeightsFormatError } from './errors.js';

// A minimal zip reader for torch.save archives: stored (uncompressed) entries, ZIP64 for big files.
// The central directory is read once; entries are read by range when asked, and checked as Python's
// zipfile checks them: the local header must agree with the directory, the data with its CRC-32.

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  headerOffset: number;
  /** CRC-32 of the entry's bytes, from the central directory. */
  crc32: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_LEN = 22;
const CENTRAL_LEN = 46;
const LOCAL_LEN = 30;
/** A directory this big would list millions of entries: no checkpoint has one. */
const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;

const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
// Values past 2^53 lose precision but stay larger than any file, so range checks still reject them.
const u64 = (b: Uint8Array, o: number) => u32(b, o) + u32(b, o + 4) * 2 ** 32;

const badZip = (file: string, detail: string) => new WeightsFormatError(file, 'bad-zip', `${detail}; the archive is damaged or truncated (download it again)`);
const damaged = 'the archive is damaged: download or save it again';

/** Finds the end-of-central-directory record (and its ZIP64 twin when the 32-bit fields overflowed). */
async function findDirectory(src: ByteSource): Promise<{ count: number; offset: number; size: number }> {
  const file = src.name;
  if (src.size < EOCD_LEN) throw new WeightsFormatError(file, 'bad-zip', `${src.size} bytes is too short for a zip archive (a torch.save file is one)`);
  const tailLen = Math.min(src.size, EOCD_LEN + 0xffff);
  const tailStart = src.size - tailLen;
  const tail = await src.read(tailStart, tailLen);
  let eocd = -1;
  for (let i = tailLen - EOCD_LEN; i >= 0; i--) {
    if (u32(tail, i) === EOCD_SIG && i + EOCD_LEN + u16(tail, i + 20) <= tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new WeightsFormatError(file, 'bad-zip', 'no end-of-central-directory record: this is not a zip archive (torch.save writes one) or it is truncated');
  }
  let count = u16(tail, eocd + 10);
  let size = u32(tail, eocd + 12);
  let offset = u32(tail, eocd + 16);
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    if (eocd < 20 || u32(tail, eocd - 20) !== ZIP64_LOCATOR_SIG) throw badZip(file, 'the directory fields overflowed but there is no ZIP64 locator');
    const at = u64(tail, eocd - 20 + 8);
    if (at + 56 > tailStart + eocd - 20) throw badZip(file, `the ZIP64 record offset ${at} is outside the file`);
    const z = await src.read(at, 56);
    if (u32(z, 0) !== ZIP64_EOCD_SIG) throw badZip(file, 'the ZIP64 end-of-central-directory record is missing');
    count = u64(z, 32);
    size = u64(z, 40);
    offset = u64(z, 48);
  }
  if (size > MAX_DIRECTORY_BYTES) throw badZip(file, `the central directory claims ${size} bytes (limit ${MAX_DIRECTORY_BYTES})`);
  if (offset + size > src.size) throw badZip(file, `the central directory [${offset}, ${offset + size}) lies outside the ${src.size}-byte file`);
  if (count * CENTRAL_LEN > size) throw badZip(file, `${count} entries cannot fit in a ${size}-byte central directory`);
  return { count, offset, size };
}

/** The entries of a zip archive by name, from its central directory. */
export async function readZipDirectory(src: ByteSource): Promise<Map<string, ZipEntry>> {
  const file = src.name;
  const dir = await findDirectory(src);
  const cd = await src.read(dir.offset, dir.size);
  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder();
  let p = 0;
  for (let i = 0; i < dir.count; i++) {
    if (p + CENTRAL_LEN > cd.byteLength || u32(cd, p) !== CENTRAL_SIG) throw badZip(file, `central directory entry ${i} is damaged`);
    const nameLen = u16(cd, p + 28);
    const extraLen = u16(cd, p + 30);
    const commentLen = u16(cd, p + 32);
    const next = p + CENTRAL_LEN + nameLen + extraLen + commentLen;
    if (next > cd.byteLength) throw badZip(file, `central directory entry ${i} runs past the directory`);
    const name = decoder.decode(cd.subarray(p + CENTRAL_LEN, p + CENTRAL_LEN + nameLen));
    const entry: ZipEntry = {
      name, flags: u16(cd, p + 8), method: u16(cd, p + 10), compressedSize: u32(cd, p + 20), size: u32(cd, p + 24),
      headerOffset: u32(cd, p + 42), crc32: u32(cd, p + 16),
    };
    applyZip64Extra(entry, cd, p + CENTRAL_LEN + nameLen, extraLen);
    entries.set(name, entry);
    p = next;
  }
  return entries;
}

/** ZIP64 sizes and offset live in extra field 0x0001, in this order, only for the fields that overflowed. */
function applyZip64Extra(entry: ZipEntry, cd: Uint8Array, start: number, length: number): void {
  const end = start + length;
  for (let e = start; e + 4 <= end;) {
    const id = u16(cd, e);
    const len = u16(cd, e + 2);
    const fieldEnd = Math.min(e + 4 + len, end);
    if (id === 0x0001) {
      let q = e + 4;
      const take = () => {
        const v = q + 8 <= fieldEnd ? u64(cd, q) : -1;
        q += 8;
        return v;
      };
      if (entry.size === 0xffffffff) entry.size = take();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = take();
      if (entry.headerOffset === 0xffffffff) entry.headerOffset = take();
    }
    e += 4 + len;
  }
}

/** The bytes of one stored entry, at most `maxBytes` of them (a larger claim is refused before reading). */
export async function readZipEntry(src: ByteSource, entry: ZipEntry, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Uint8Array> {
  const file = src.name;
  const what = `zip entry '${entry.name}'`;
  if (entry.flags & 1) {
    throw new WeightsFormatError(file, 'encrypted-zip', `${what} is encrypted; torch.save never encrypts — re-save the checkpoint with torch.save`);
  }
  if (entry.method !== 0) {
    throw new WeightsFormatError(
      file, 'compressed-zip',
      `${what} is compressed (zip method ${entry.method}); only stored entries are read, as torch.save writes them — ` +
      'if the archive was re-zipped, load it in Python and torch.save it again, or convert it to safetensors',
    );
  }
  if (entry.compressedSize !== entry.size || entry.size < 0) {
    throw badZip(file, `${what} has a stored size ${entry.compressedSize} different from its size ${entry.size}`);
  }
  if (entry.size > maxBytes) throw new WeightsFormatError(file, 'too-large', `${what} claims ${entry.size} bytes, more than the ${maxBytes} allowed for it`);
  if (entry.headerOffset < 0 || entry.headerOffset + LOCAL_LEN > src.size) throw badZip(file, `${what} starts past the end of the file`);
  const h = await src.read(entry.headerOffset, LOCAL_LEN);
  if (u32(h, 0) !== LOCAL_SIG) throw badZip(file, `${what} has no local header at offset ${entry.headerOffset}`);
  const nameLen = u16(h, 26);
  const extraLen = u16(h, 28);
  const start = entry.headerOffset + LOCAL_LEN + nameLen + extraLen;
  if (start + entry.size > src.size) {
    throw new WeightsFormatError(
      file, 'truncated', `${what} (${entry.size} bytes at ${start}) runs past the end of the ${src.size}-byte file: it is truncated (download it again)`,
    );
  }
  checkLocalHeader(src.name, entry, h, await src.read(entry.headerOffset + LOCAL_LEN, nameLen + extraLen));
  const bytes = await src.read(start, entry.size);
  const crc = crc32(bytes);
  if (crc !== entry.crc32) {
    throw new WeightsFormatError(
      file, 'bad-crc', `${what} fails its CRC-32 check (the directory says ${hex(entry.crc32)}, its ${entry.size} bytes give ${hex(crc)}): ${damaged}`,
    );
  }
  return bytes;
}

const hex = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;

/**
 * The local header must name the entry as the central directory does (Python's zipfile: "File name in
 * directory ... and header ... differ") and agree on the method, CRC and sizes wherever it records them:
 * a writer that streams (flag bit 3, as torch's does) leaves them zero there and puts them after the data.
 */
function checkLocalHeader(file: string, entry: ZipEntry, h: Uint8Array, nameAndExtra: Uint8Array): void {
  const what = `zip entry '${entry.name}'`;
  const nameLen = u16(h, 26);
  const name = new TextDecoder().decode(nameAndExtra.subarray(0, nameLen));
  const differ = (field: string, dir: string | number, local: string | number) =>
    new WeightsFormatError(file, 'bad-zip', `${what}: the ${field} in the central directory (${dir}) and in its local header (${local}) differ: ${damaged}`);
  if (name !== entry.name) throw differ('file name', JSON.stringify(entry.name), JSON.stringify(name));
  if (u16(h, 8) !== entry.method) throw differ('compression method', entry.method, u16(h, 8));
  const streamed = (u16(h, 6) & 8) !== 0;
  const local = { crc: u32(h, 14), compressedSize: u32(h, 18), size: u32(h, 22) };
  if (local.size === 0xffffffff || local.compressedSize === 0xffffffff) {
    const z = localZip64Sizes(nameAndExtra.subarray(nameLen));
    if (local.size === 0xffffffff) local.size = z?.size ?? -1;
    if (local.compressedSize === 0xffffffff) local.compressedSize = z?.compressedSize ?? -1;
  }
  // -1: saturated without a ZIP64 field to say more; 0 beside flag bit 3: written after the data.
  const recorded = (v: number) => v !== -1 && !(streamed && v === 0);
  if (recorded(local.crc) && local.crc !== entry.crc32) throw differ('CRC-32', hex(entry.crc32), hex(local.crc));
  if (recorded(local.size) && local.size !== entry.size) throw differ('size', entry.size, local.size);
  if (recorded(local.compressedSize) && local.compressedSize !== entry.compressedSize) throw differ('stored size', entry.compressedSize, local.compressedSize);
}

/** A local header's ZIP64 extra field holds both sizes, uncompressed first. */
function localZip64Sizes(extra: Uint8Array): { size: number; compressedSize: number } | undefined {
  for (let e = 0; e + 4 <= extra.length;) {
    const len = u16(extra, e + 2);
    if (u16(extra, e) === 0x0001 && len >= 16 && e + 4 + 16 <= extra.length) return { size: u64(extra, e + 4), compressedSize: u64(extra, e + 12) };
    e += 4 + len;
  }
  return undefined;
}
