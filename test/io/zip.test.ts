import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/io/crc32.js';
import { bytesSource, readZipDirectory, readZipEntry, WeightsFormatError } from '../../src/io/index.js';
import { outcome, recording, rng, virtualSource } from './sources.js';
import { buildZip, referenceCrc32, zipParts, type ZipFile } from './zip-builder.js';

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
    ['bad-zip', 'a damaged directory entry', () => {
      const z = buildZip(files);
      const cd = new DataView(z.buffer).getUint32(eocdAt(z) + 16, true);
      z[cd] ^= 0xff;
      return z;
    }],
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

describe('CRC-32', () => {
  it('gives the standard check values', () => {
    const enc = new TextEncoder();
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(enc.encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(enc.encode('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
  });

  it('agrees with the bit-by-bit definition and with zlib on every length and alignment, and continues across chunks', () => {
    const r = rng(5);
    const data = Uint8Array.from({ length: 5000 }, () => Math.floor(r() * 256));
    const zlibCrc = (zlib as { crc32?: (b: Uint8Array) => number }).crc32; // Node >= 20.15
    for (let n = 0; n < 70; n++) {
      for (const start of [0, 1, 3]) {
        const b = data.subarray(start, start + n * 37);
        expect(crc32(b), `${start}+${b.length}`).toBe(referenceCrc32(b));
        if (zlibCrc) expect(crc32(b)).toBe(zlibCrc(b));
      }
    }
    expect(crc32(data.subarray(1234), crc32(data.subarray(0, 1234)))).toBe(crc32(data));
  });

  it('checks 64 MiB in well under a second', () => {
    const big = new Uint8Array(64 * 1024 * 1024).fill(7);
    const t0 = performance.now();
    crc32(big);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('zip entry integrity', () => {
  const read = async (z: Uint8Array, name = 'a/data/0') => {
    const src = bytesSource('damaged.pth', z);
    return readZipEntry(src, (await readZipDirectory(src)).get(name)!);
  };
  const errorOf = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a WeightsFormatError'); }, (e: unknown) => e as WeightsFormatError);

  it('refuses an entry whose bytes do not match its CRC-32, naming the file and the entry', async () => {
    for (const opts of [{}, { zip64: true, align: 64 }]) {
      const err = await errorOf(read(buildZip([{ ...files[1], crc: 0x12345678 }], opts)));
      expect(err.code).toBe('bad-crc');
      expect(err.message).toContain("cflens: damaged.pth: zip entry 'a/data/0' fails its CRC-32 check (the directory says 0x12345678");
      expect(err.message).toContain('the archive is damaged: download or save it again');
    }
  });

  it('refuses a data byte changed after writing', async () => {
    const z = buildZip(files);
    z[z.indexOf(250, 60)] ^= 0x40; // inside a/data/0 (0..250 repeating)
    expect((await errorOf(read(z))).code).toBe('bad-crc');
  });

  it('checks the local header against the central directory: name, method, CRC-32, sizes, ZIP64 sizes', async () => {
    const z = buildZip(files);
    const at = z.indexOf(0x50, 30 + files[0].name.length + files[0].data.length); // a/data/0's local header
    const dv = new DataView(z.buffer);
    const mutations: Array<[string, (b: Uint8Array) => void]> = [
      ['file name', (b) => { b[at + 30 + files[1].name.length - 1] = 0x31; }],
      ['compression method', (b) => new DataView(b.buffer).setUint16(at + 8, 8, true)],
      ['CRC-32', (b) => new DataView(b.buffer).setUint32(at + 14, 1, true)],
      ['size', (b) => new DataView(b.buffer).setUint32(at + 22, 299, true)],
      ['stored size', (b) => new DataView(b.buffer).setUint32(at + 18, 301, true)],
    ];
    expect(dv.getUint32(at, true)).toBe(0x04034b50);
    for (const [field, mutate] of mutations) {
      const b = z.slice();
      mutate(b);
      const err = await errorOf(read(b));
      expect(err.code, field).toBe('bad-zip');
      expect(err.message, field).toContain(`zip entry 'a/data/0': the ${field} in the central directory`);
    }
    const z64 = buildZip(files, { zip64: true });
    const at64 = z64.indexOf(0x50, 30 + files[0].name.length + 20 + files[0].data.length);
    expect(new DataView(z64.buffer).getUint32(at64, true)).toBe(0x04034b50);
    new DataView(z64.buffer).setBigUint64(at64 + 30 + files[1].name.length + 4, 301n, true); // the ZIP64 field's size
    expect((await errorOf(read(z64))).message).toMatch(/the size in the central directory \(300\) and in its local header \(301\) differ/);
  });
});
