import { describe, expect, it } from 'vitest';
import { bytesSource, readZipDirectory, readZipEntry, WeightsFormatError } from '../../src/io/index.js';
import { outcome, recording, virtualSource } from './sources.js';
import { buildZip, zipParts, type ZipFile } from './zip-builder.js';

const enc = new TextEncoder();
const files: ZipFile[] = [
  { name: 'a/data.pkl', data: enc.encode('pickle bytes') },
  { name: 'a/data/0', data: Uint8Array.from({ length: 300 }, (_, i) => i % 251) },
  { name: 'a/empty', data: new Uint8Array(0) },
];

async function readAll(bytes: Uint8Array, name = 'test.zip') {
  const src = bytesSource(name, bytes);
  const dir = await readZipDirectory(src);
  return new Map(await Promise.all([...dir.values()].map(async (e) => [e.name, await readZipEntry(src, e)] as const)));
}

const setU32 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(at, v, true);
const eocdAt = (b: Uint8Array) => b.length - 22;

describe('zip reader', () => {
  it.each([
    ['plain', {}],
    ['64-byte aligned data (as torch writes)', { align: 64 }],
    ['ZIP64 records', { zip64: true }],
    ['ZIP64 and alignment', { zip64: true, align: 64 }],
  ])('reads stored entries: %s', async (_, opts) => {
    const got = await readAll(buildZip(files, opts));
    expect([...got.keys()]).toEqual(files.map((f) => f.name));
    for (const f of files) expect(Buffer.from(got.get(f.name)!).equals(Buffer.from(f.data))).toBe(true);
  });

  it('finds the directory behind an archive comment', async () => {
    const z = buildZip(files);
    const commented = new Uint8Array(z.length + 5);
    commented.set(z);
    commented.set(enc.encode('hello'), z.length);
    commented[eocdAt(z) + 20] = 5;
    expect((await readAll(commented)).size).toBe(3);
  });

  it('reads entries past 4 GiB through ZIP64 fields, by range, in a virtual 4.3 GB file', async () => {
    const base = 2 ** 32 + 12345;
    const { local, directory } = zipParts(files, { zip64: true, align: 64, base });
    const dir = directory(base + local.length);
    const src = recording(virtualSource('big.pth', base + local.length + dir.length, [[base, local], [base + local.length, dir]]));
    const entries = await readZipDirectory(src);
    const entry = entries.get('a/data/0')!;
    expect(entry.headerOffset).toBeGreaterThan(2 ** 32);
    expect(Array.from(await readZipEntry(src, entry))).toEqual(Array.from(files[1].data));
    expect(src.largest()).toBeLessThan(70_000);
  });

  const refusals: Array<[string, string, () => Uint8Array]> = [
    ['bad-zip', 'a file that is not a zip', () => enc.encode('definitely not a zip archive, just text that goes on')],
    ['bad-zip', 'a file too short to be one', () => new Uint8Array(10)],
    ['bad-zip', 'an archive cut short', () => buildZip(files).subarray(0, 200)],
    ['bad-zip', 'a directory offset past the end', () => { const z = buildZip(files); setU32(z, eocdAt(z) + 16, z.length); return z; }],
    ['bad-zip', 'more entries than the directory can hold', () => { const z = buildZip(files); z[eocdAt(z) + 10] = 200; return z; }],
    ['bad-zip', 'a 2 GB central directory', () => { const z = buildZip(files); setU32(z, eocdAt(z) + 12, 2 ** 31); setU32(z, eocdAt(z) + 16, 0); return z; }],
    ['bad-zip', 'saturated fields without a ZIP64 locator', () => { const z = buildZip(files); setU32(z, eocdAt(z) + 16, 0xffffffff); return z; }],
    ['bad-zip', 'a damaged directory entry', () => { const z = buildZip(files); const cd = new DataView(z.buffer).getUint32(eocdAt(z) + 16, true); z[cd] ^= 0xff; return z; }],
  ];
  it.each(refusals)('refuses (%s) %s', async (code, _, make) => {
    const err = await readAll(make(), 'broken.pth').catch((e) => e);
    expect(err).toBeInstanceOf(WeightsFormatError);
    expect(err.code).toBe(code);
    expect(err.message).toContain('broken.pth');
  });

  it('explains compressed and encrypted entries, naming them', async () => {
    for (const [field, value, code] of [['method', 8, 'compressed-zip'], ['flags', 1, 'encrypted-zip']] as const) {
      const z = buildZip([{ name: 'a/data.pkl', data: enc.encode('x'), [field]: value }]);
      const err = await readAll(z).catch((e) => e);
      expect(err.code).toBe(code);
      expect(err.message).toContain("'a/data.pkl'");
      expect(err.message).toMatch(/torch\.save/);
    }
  });

  it('checks each entry against the file before reading it', async () => {
    const z = buildZip(files);
    const src = bytesSource('t.zip', z);
    const dir = await readZipDirectory(src);
    const e = dir.get('a/data/0')!;
    expect(await outcome(readZipEntry(src, { ...e, headerOffset: z.length - 10 }))).toBe('bad-zip');
    expect(await outcome(readZipEntry(src, { ...e, headerOffset: 1 }))).toBe('bad-zip');
    expect(await outcome(readZipEntry(src, { ...e, size: 2 ** 40, compressedSize: 2 ** 40 }))).toBe('truncated');
    expect(await outcome(readZipEntry(src, { ...e, compressedSize: 5 }))).toBe('bad-zip');
    expect(await outcome(readZipEntry(src, e, 100))).toBe('too-large');
  });
});
