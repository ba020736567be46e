import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  bytesSource, loadPth, readZipDirectory, readZipEntry, SafetensorsFile, stateDictFrom, toFloat32, writeSafetensors, type ByteSource,
} from '../../src/io/index.js';
import { floatToHalfBits } from '../../src/io/dtype.js';
import { fixture } from './io-fixtures.js';
import { torchArchive } from './pickle-builder.js';
import { outcome, recording, rng } from './sources.js';

// Seeded mutations of valid files: every outcome must be success or a WeightsFormatError, each within
// a time bound, and no read may ask for more than the file holds (lengths are checked before use).

// CFLENS_FUZZ_CASES / CFLENS_FUZZ_SEED run longer or different campaigns locally.
const N = Number(process.env.CFLENS_FUZZ_CASES ?? 3000);
const SEED = Number(process.env.CFLENS_FUZZ_SEED ?? 0);
const PER_CASE_MS = 500;
type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)];
const SPECIAL = [0, 0xff, 0x7f, 0x80, 0x22, 0x5d, 0x7b, 0x2e, 0x28, 0x0a];
/** The opcodes the restricted unpickler knows, plus a few it must refuse (INST, OBJ, EXT1, PERSID). */
const OPCODES = [0x80, 0x95, 0x2e, 0x28, 0x30, 0x31, 0x32, 0x7d, 0x5d, 0x29, 0x74, 0x85, 0x86, 0x87, 0x4a, 0x4b, 0x4d, 0x8a, 0x8b, 0x47, 0x4e, 0x88, 0x89,
  0x8c, 0x58, 0x8d, 0x43, 0x42, 0x8e, 0x71, 0x72, 0x94, 0x68, 0x6a, 0x73, 0x75, 0x61, 0x65, 0x63, 0x93, 0x52, 0x81, 0x62, 0x51, 0x69, 0x6f, 0x82, 0x50];

/** Byte-level damage, biased towards the start (headers) and the end (zip directories). */
function damage(src: Uint8Array, r: Rand): Uint8Array {
  const kind = int(r, 6);
  if (kind === 0) return src.slice(0, int(r, src.length)); // truncate
  if (kind === 1) { // cut a span out
    const at = int(r, src.length);
    return Uint8Array.from([...src.subarray(0, at), ...src.subarray(Math.min(src.length, at + 1 + int(r, 64)))]);
  }
  if (kind === 2) { // append garbage
    return Uint8Array.from([...src, ...Array.from({ length: 1 + int(r, 64) }, () => int(r, 256))]);
  }
  const b = src.slice();
  const flips = 1 + int(r, 8);
  for (let i = 0; i < flips; i++) {
    const w = r();
    const at = w < 0.4 ? int(r, Math.min(b.length, 256)) : w < 0.7 ? b.length - 1 - int(r, Math.min(b.length, 256)) : int(r, b.length);
    b[at] = kind === 3 ? b[at] ^ (1 << int(r, 8)) : kind === 4 ? int(r, 256) : pick(r, SPECIAL);
  }
  return b;
}

const u64le = (b: Uint8Array) => Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));

/** Structural damage to a safetensors header: tampered JSON and lying length fields. */
function tamper(file: Uint8Array, r: Rand): Uint8Array {
  const n = u64le(file);
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, Record<string, unknown>>;
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const victim = header[pick(r, names)];
  const other = header[pick(r, names)];
  const weird = [-1, 0.5, 2 ** 53, 2 ** 60, '4', null, [], {}, 'F32', 'toString', 1e308, -0];
  switch (int(r, 9)) {
    case 0: victim.dtype = pick(r, ['F32', 'F16', 'BF16', 'I64', 'U8', 'BOOL', 'F8', 'toString', '__proto__', 7, null]); break;
    case 1: victim.shape = [...(victim.shape as number[]), pick(r, [0, 1, 2, 3, -1, 2 ** 31])]; break;
    case 2: (victim.shape as unknown[])[0] = pick(r, weird); break;
    case 3: victim.data_offsets = [(victim.data_offsets as number[])[0] + int(r, 9) - 4, (victim.data_offsets as number[])[1] + int(r, 9) - 4]; break;
    case 4: victim.data_offsets = [...(other.data_offsets as number[])]; break;
    case 5: (victim.data_offsets as unknown[])[int(r, 2)] = pick(r, weird); break;
    case 6: delete victim[pick(r, ['dtype', 'shape', 'data_offsets'])]; break;
    case 7: header.__metadata__ = pick(r, [{ a: 'b' }, { a: 1 }, [], 'x', null]) as never; break;
    default: header[pick(r, names)] = pick(r, weird) as never;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const data = file.subarray(8 + n);
  const out = new Uint8Array(8 + json.length + data.length);
  const lie = int(r, 4) === 0 ? pick(r, [0, 1, json.length - 1, json.length + 1, json.length + data.length + 1, 2 ** 40]) : json.length;
  new DataView(out.buffer).setBigUint64(0, BigInt(lie), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Runs every case, tallying outcome codes; fails on any other error, a slow case, or an oversized read. */
async function fuzz(count: number, seed: number, make: (r: Rand) => Uint8Array, parse: (src: ByteSource) => Promise<unknown>) {
  const r = rng(seed);
  const tally = new Map<string, number>();
  let slowest = 0;
  for (let k = 0; k < count; k++) {
    const bytes = make(r);
    const src = recording(bytesSource('fuzz.bin', bytes));
    const t0 = performance.now();
    let code: string;
    try {
      code = await outcome(parse(src));
    } catch (e) {
      throw new Error(`seed ${seed}, case ${k}: ${(e as Error).stack}`);
    }
    slowest = Math.max(slowest, performance.now() - t0);
    expect(src.largest(), `case ${k}`).toBeLessThanOrEqual(bytes.length);
    tally.set(code, (tally.get(code) ?? 0) + 1);
  }
  expect(slowest).toBeLessThan(PER_CASE_MS);
  expect(process.memoryUsage().arrayBuffers).toBeLessThan(1024 * 1024 * 1024);
  return tally;
}

const readSafetensors = async (src: ByteSource) => {
  const st = await SafetensorsFile.open(src);
  for (const n of st.names()) toFloat32(await st.read(n));
};
const readPth = async (src: ByteSource) => stateDictFrom(await loadPth(src), src.name);

describe('fuzzing the readers', { timeout: 60_000 }, () => {
  const written = writeSafetensors({
    'w.0': { dtype: 'F32', shape: [3, 4], data: new Float32Array(12).fill(1.5) },
    'w.1': { dtype: 'F16', shape: [5], data: Uint16Array.from([1, 2, 3, 4, 5], floatToHalfBits) },
    bf: { dtype: 'BF16', shape: [2, 1], data: Uint16Array.of(0x3f80, 0x4000) },
    i: { dtype: 'I64', shape: [2], data: BigInt64Array.of(1n, -1n) },
    s: { dtype: 'F32', shape: [], data: Float32Array.of(3) },
  }, { format: 'pt' });
  const python = new Uint8Array(readFileSync(fixture('pth_cases/expected.safetensors')));
  const pths = ['views', 'dtypes', 'checkpoint'].map((c) => new Uint8Array(readFileSync(fixture(`pth_cases/${c}.pth`))));

  it(`${N} damaged safetensors files (flips, cuts, garbage)`, async () => {
    const tally = await fuzz(N, SEED + 42, (r) => damage(r() < 0.5 ? written : python, r), readSafetensors);
    expect(tally.size).toBeGreaterThan(5);
  });

  it(`${N} safetensors files with tampered JSON headers and lying length fields`, async () => {
    const tally = await fuzz(N, SEED + 43, (r) => tamper(r() < 0.5 ? written : python, r), readSafetensors);
    expect(tally.size).toBeGreaterThan(8);
    expect(tally.get('ok')).toBeGreaterThan(50);
  });

  // The fixtures unpacked, so they can be damaged inside and zipped up again (also as ZIP64).
  const unpacked = Promise.all(pths.map(async (bytes) => {
    const src = bytesSource('fixture.pth', bytes);
    const dir = await readZipDirectory(src);
    const files = new Map(await Promise.all(
      [...dir.values()].map(async (e) => [e.name.split('/').slice(1).join('/'), (await readZipEntry(src, e)).slice()] as const),
    ));
    return { pickle: files.get('data.pkl')!, storages: Object.fromEntries([...files].filter(([k]) => k.startsWith('data/')).map(([k, v]) => [k.slice(5), v])) };
  }));

  it(`${N} damaged torch.save archives (torch's own and ZIP64 ones)`, async () => {
    const zip64 = (await unpacked).map(({ pickle, storages }) => torchArchive(pickle, storages, { zip64: true }));
    const tally = await fuzz(N, SEED + 7, (r) => damage(pick(r, [...pths, ...zip64]), r), readPth);
    expect(tally.get('ok')).toBeGreaterThan(50);
    expect(tally.size).toBeGreaterThan(4);
  });

  it(`${N} damaged torch.save archives: any archive still read gives exactly the original tensors`, async () => {
    // The acceptance rule of the format: every entry read matches its CRC-32 and its local header, so an
    // archive that reads at all reads the bytes torch wrote. A read that "succeeds" with other values is a
    // silent wrong read (70 of 1,010 mutants of real checkpoints did that before CRCs were checked).
    const bytesOf = (sd: Map<string, { data: ArrayBufferView }>) => new Map(
      [...sd].map(([k, t]) => [k, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('hex')]),
    );
    const originals = await Promise.all(pths.map(async (b) => bytesOf(stateDictFrom(await loadPth(bytesSource('orig.pth', b)), 'orig.pth'))));
    const r = rng(SEED + 8);
    let accepted = 0;
    let wrong = 0;
    for (let k = 0; k < N; k++) {
      const which = int(r, pths.length);
      const src = bytesSource('fuzz.pth', damage(pths[which], r));
      let got: Map<string, string>;
      try {
        got = bytesOf(stateDictFrom(await loadPth(src), 'fuzz.pth'));
      } catch {
        continue;
      }
      accepted++;
      const want = originals[which];
      if (got.size !== want.size || [...want].some(([key, hex]) => got.get(key) !== hex)) wrong++;
    }
    expect(wrong, `${wrong} of ${accepted} accepted mutants read other values`).toBe(0);
    expect(accepted).toBeGreaterThan(0);
  });

  it(`${N} valid archives around damaged pickles and storages`, async () => {
    // Damage data.pkl (or cut a storage) inside a valid archive, so it reaches the pickle VM and the
    // tensor rebuilder instead of stopping at the zip layer.
    const parts = await unpacked;
    const tally = await fuzz(N, SEED + 99, (r) => {
      const { pickle, storages } = pick(r, parts);
      if (r() < 0.1) {
        const key = pick(r, Object.keys(storages));
        return torchArchive(pickle, { ...storages, [key]: storages[key].subarray(0, int(r, storages[key].length)) });
      }
      let b = pickle.slice();
      for (let i = 1 + int(r, 4); i > 0; i--) {
        const at = int(r, b.length);
        const how = int(r, 3);
        if (how === 0) b[at] = int(r, 256); // any byte
        else if (how === 1) b[at] = b[int(r, b.length)]; // a byte from elsewhere (often an opcode)
        else b = Uint8Array.from([...b.subarray(0, at), pick(r, OPCODES), ...b.subarray(at)]); // an extra opcode
      }
      return torchArchive(r() < 0.1 ? b.subarray(0, int(r, b.length)) : b, storages);
    }, readPth);
    expect(tally.get('ok')).toBeGreaterThan(50);
    expect(tally.get('bad-pickle')).toBeGreaterThan(50);
    expect(tally.size).toBeGreaterThan(5);
  });
});
