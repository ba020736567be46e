import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource, loadPth, readZipDirectory, WeightsFormatError, type ZipEntry } from '../../src/io/index.js';
import { fixture } from './io-fixtures.js';

// Damaged copies (in memory) of checkpoints torch wrote: Python's zipfile refuses each of them (a bad
// CRC-32, a local header naming another file), and so must the reader, saying which entry and what to do.

const FILES = ['pth_cases/checkpoint.pth', 'pth_cases/dtypes.pth', 'pth_cases/views.pth', 'resnet_A/weights.pth'];
const setU16 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint16(at, v, true);
const setU32 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(at, v, true);
const u16 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint16(at, true);

async function entriesOf(bytes: Uint8Array): Promise<ZipEntry[]> {
  return [...(await readZipDirectory(bytesSource('x', bytes))).values()];
}
/** Where an entry's data starts: after its local header, name and extra field. */
const dataStart = (b: Uint8Array, e: ZipEntry) => e.headerOffset + 30 + u16(b, e.headerOffset + 26) + u16(b, e.headerOffset + 28);
const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
/** Where an entry's central directory record is (these archives have no comment and no ZIP64 records). */
function centralRecordOf(b: Uint8Array, name: string): number {
  const eocd = b.length - 22;
  expect(u32(b, eocd)).toBe(0x06054b50);
  for (let p = u32(b, eocd + 16), i = 0; i < u16(b, eocd + 10); i++) {
    const nameLen = u16(b, p + 28);
    if (new TextDecoder().decode(b.subarray(p + 46, p + 46 + nameLen)) === name) return p;
    p += 46 + nameLen + u16(b, p + 30) + u16(b, p + 32);
  }
  throw new Error(`no central record for ${name}`);
}
/** The largest storage entry: the one a flipped byte is likeliest to hit in real damage. */
const largestStorage = (entries: ZipEntry[]) => entries.filter((e) => /\/data\/\d+$/.test(e.name)).sort((a, b) => b.size - a.size)[0];

async function errorOf(bytes: Uint8Array, name: string): Promise<WeightsFormatError> {
  const err = await loadPth(bytesSource(name, bytes)).then(() => undefined, (e: unknown) => e);
  if (!(err instanceof WeightsFormatError)) throw new Error(`expected a WeightsFormatError, got ${String(err)}`);
  return err;
}

describe.each(FILES)('a damaged copy of %s', (rel) => {
  const original = new Uint8Array(readFileSync(fixture(rel)));
  const name = rel.split('/').pop()!;

  it('loads undamaged (every CRC-32 and local header agrees)', async () => {
    await expect(loadPth(bytesSource(name, original))).resolves.toBeDefined();
  });

  it('with two flipped data bytes fails its CRC-32, naming the file and the entry', async () => {
    const entries = await entriesOf(original);
    for (const entry of [largestStorage(entries), entries.find((e) => e.name.endsWith('/data.pkl'))!]) {
      const b = original.slice();
      const at = dataStart(b, entry) + Math.floor(entry.size / 2);
      b[at] ^= 0x01;
      b[at + 1] ^= 0x80;
      const err = await errorOf(b, name);
      expect(err.code, entry.name).toBe('bad-crc');
      expect(err.message).toContain(`cflens: ${name}: zip entry '${entry.name}' fails its CRC-32 check`);
      expect(err.message).toContain('the archive is damaged: download or save it again');
    }
  });

  it('with a wrong CRC-32 in the central directory fails the check too', async () => {
    const b = original.slice();
    const entry = largestStorage(await entriesOf(b));
    const p = centralRecordOf(b, entry.name);
    setU32(b, p + 16, entry.crc32 ^ 0x10);
    expect((await errorOf(b, name)).code).toBe('bad-crc');
  });

  it('with a local header naming another file is refused as Python\'s zipfile does', async () => {
    const b = original.slice();
    const entry = largestStorage(await entriesOf(b));
    const nameAt = entry.headerOffset + 30;
    b[nameAt + u16(b, entry.headerOffset + 26) - 1] ^= 0x01; // archive/data/12 -> archive/data/13
    const err = await errorOf(b, name);
    expect(err.code).toBe('bad-zip');
    expect(err.message).toContain(`zip entry '${entry.name}': the file name in the central directory ("${entry.name}") and in its local header`);
    expect(err.message).toContain('download or save it again');
  });

  it('with a local header disagreeing on the method or the size is refused', async () => {
    const entries = await entriesOf(original);
    const entry = largestStorage(entries);
    const method = original.slice();
    setU16(method, entry.headerOffset + 8, 8);
    expect((await errorOf(method, name)).message).toMatch(/compression method in the central directory \(0\) and in its local header \(8\) differ/);
    // torch streams its entries (flag bit 3): the local sizes are zero, and any other value must agree.
    expect(u16(original, entry.headerOffset + 6) & 8).toBe(8);
    const size = original.slice();
    setU32(size, entry.headerOffset + 22, entry.size + 1);
    expect((await errorOf(size, name)).message).toMatch(/the size in the central directory \(\d+\) and in its local header \(\d+\) differ/);
  });
});
