import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  blobSource, bytesSource, parseSafetensorsHeader, SafetensorsFile, toFloat32, WeightsFormatError, writeSafetensors, type TensorToWrite,
} from '../../src/io/index.js';
import { floatToHalfBits } from '../../src/io/dtype.js';
import { fileSource } from '../../src/io/node/index.js';
import { fixtureSource } from './io-fixtures.js';
import { outcome, recording, virtualSource } from './sources.js';

/** A safetensors file with a hand-written header (any JSON value) and `dataBytes` zero bytes of data. */
function handmade(header: unknown, dataBytes: number, headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

const open = (b: Uint8Array, name = 'bad.safetensors') => SafetensorsFile.open(bytesSource(name, b));
const f32 = (shape: number[], begin = 0) => ({ dtype: 'F32', shape, data_offsets: [begin, begin + 4 * shape.reduce((a, b) => a * b, 1)] });

const ALL_DTYPES: Record<string, TensorToWrite> = {
  f64: { dtype: 'F64', shape: [3], data: Float64Array.of(1.5, -(2 ** 60), Number.MIN_VALUE) },
  f32: { dtype: 'F32', shape: [2, 2], data: Float32Array.of(1, -0, Infinity, 3.25) },
  f16: { dtype: 'F16', shape: [4], data: Uint16Array.from([1, -2.5, 65504, 6e-8], floatToHalfBits) },
  bf16: { dtype: 'BF16', shape: [2], data: Uint16Array.of(0x3f80, 0xc0a0) },
  i64: { dtype: 'I64', shape: [2], data: BigInt64Array.of(5n, -(2n ** 40n)) },
  i32: { dtype: 'I32', shape: [1, 3], data: Int32Array.of(-1, 2 ** 31 - 1, 0) },
  i16: { dtype: 'I16', shape: [2], data: Int16Array.of(-32768, 7) },
  i8: { dtype: 'I8', shape: [3], data: Int8Array.of(-128, 0, 127) },
  u8: { dtype: 'U8', shape: [1], data: Uint8Array.of(255) },
  bool: { dtype: 'BOOL', shape: [3], data: Uint8Array.of(1, 0, 1) },
  scalar: { dtype: 'F32', shape: [], data: Float32Array.of(42) },
  empty: { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
};
const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('safetensors writer and reader', () => {
  it('round-trips every dtype (bit-exact), 0-dim and empty tensors, and metadata', async () => {
    const file = writeSafetensors(ALL_DTYPES, { format: 'pt', note: 'ünïcode' });
    const headerLength = Number(new DataView(file.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const st = await open(file, 'roundtrip.safetensors');
    // The reference writer's order: 8-byte dtypes (I64 before F64, as in its Dtype enum), then 4-, 2- and 1-byte ones; names within a dtype.
    expect(st.names()).toEqual(['i64', 'f64', 'empty', 'f32', 'scalar', 'i32', 'bf16', 'f16', 'i16', 'i8', 'u8', 'bool']);
    expect([...st.names()].sort()).toEqual(Object.keys(ALL_DTYPES).sort());
    expect(st.metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    for (const [name, t] of Object.entries(ALL_DTYPES)) {
      const got = await st.read(name);
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(st.info(name).byteLength).toBe(t.data.byteLength);
      expect(got.data.constructor).toBe(t.data.constructor);
      expect(bytesOf(got.data).equals(bytesOf(t.data)), name).toBe(true);
    }
    expect((await st.read('f16')).data).toBeInstanceOf(Uint16Array);
    const widened = await st.read('f16', { float32: true });
    expect(widened.dtype).toBe('F32');
    expect(Array.from(widened.data as Float32Array)).toEqual([1, -2.5, 65504, 5.960464477539063e-8]);
    expect(Array.from(toFloat32(await st.read('bf16')))).toEqual([1, -5]);
    expect(Array.from(toFloat32(await st.read('i64')))).toEqual([5, -(2 ** 40)]);
    expect(Array.from(toFloat32(await st.read('bool')))).toEqual([1, 0, 1]);
  });

  it('reads the same tensors through bytes, Node Buffer, Blob and file sources, the file by ranges', async () => {
    const file = writeSafetensors(ALL_DTYPES);
    const dir = mkdtempSync(join(tmpdir(), 'cflens-io-'));
    try {
      writeFileSync(join(dir, 'w.safetensors'), file);
      const disk = recording(fileSource(join(dir, 'w.safetensors')));
      // A Buffer's slice() is a view, not a copy: each tensor must still get exactly its own bytes.
      const buffer = readFileSync(join(dir, 'w.safetensors'));
      const sources = [
        bytesSource('mem', file.buffer), bytesSource('buffer', buffer), bytesSource('view', file.subarray(0)),
        { name: 'buffers', size: buffer.length, read: async (o: number, l: number) => buffer.subarray(o, o + l) },
        blobSource(new Blob([file]), 'blob'), disk,
      ];
      for (const src of sources) {
        const st = await SafetensorsFile.open(src);
        const t = await st.read('i32');
        expect(Array.from(t.data as Int32Array), src.name).toEqual([-1, 2 ** 31 - 1, 0]);
        expect(t.data.length, src.name).toBe(3);
        expect(t.data.buffer.byteLength, src.name).toBe(12);
      }
      // The length word, the header, then only the tensor's own bytes.
      const st = await SafetensorsFile.open(fileSource(join(dir, 'w.safetensors')));
      const i32 = st.info('i32');
      expect(disk.reads).toEqual([[0, 8], [0, st.header.dataOffset], [st.header.dataOffset + i32.begin, 12]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a file written by the Python library (tensors at unaligned offsets included)', async () => {
    const st = await SafetensorsFile.open(fixtureSource('pth_cases/expected.safetensors'));
    expect(st.names().length).toBeGreaterThan(10);
    const copy = await open(writeSafetensors(Object.fromEntries(await Promise.all(st.names().map(async (n) => [n, await st.read(n)] as const)))));
    for (const n of st.names()) expect(bytesOf((await copy.read(n)).data).equals(bytesOf((await st.read(n)).data))).toBe(true);
  });

  it('refuses to write what it could not read back', () => {
    expect(() => writeSafetensors({ x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/needs 12/);
    expect(() => writeSafetensors({ x: { dtype: 'F8' as 'F32', shape: [1], data: new Uint8Array(1) } })).toThrow(/unknown dtype/);
    expect(() => writeSafetensors({ __metadata__: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } })).toThrow(/reserved/);
    // UTF-8 cannot hold a lone surrogate: JSON.stringify would escape it, and every reader refuses the escape.
    expect(() => writeSafetensors({ 'w\ud800': { dtype: 'U8', shape: [1], data: new Uint8Array(1) } })).toThrow(/surrogate/);
    expect(() => writeSafetensors({}, { note: 'x\udc00' })).toThrow(/surrogate/);
  });
});

describe('safetensors validation', () => {
  const u64 = (n: bigint, extra = 0) => { const b = new Uint8Array(8 + extra); new DataView(b.buffer).setBigUint64(0, n, true); return b; };
  const cases: Array<[string, string, Uint8Array, string?]> = [
    ['truncated', 'a 5-byte file', new Uint8Array(5)],
    ['truncated', 'an empty file', new Uint8Array(0)],
    ['header-too-small', 'header length 0', u64(0n, 10)],
    ['header-too-small', 'header length 1', u64(1n, 10)],
    ['header-too-large', 'header length 2^63', u64(1n << 63n, 10)],
    ['header-too-large', 'header length just over 100 MB', u64(100n * 1024n * 1024n + 1n, 10)],
    ['header-too-large', 'header length past the end', handmade({}, 0, 3n)],
    ['bad-json', 'broken JSON', handmade('{"a": ', 0)],
    ['bad-json', 'invalid UTF-8', handmade('{"\xff": 1}', 0).map((b, i) => (i === 10 ? 0xff : b)) as Uint8Array],
    ['bad-json', 'a JSON array', handmade([], 0)],
    ['bad-json', 'JSON null', handmade('null', 0)],
    ['bad-json', 'a JSON string', handmade('"x"', 0)],
    ['bad-metadata', '__metadata__ with a number', handmade({ __metadata__: { a: 1 } }, 0)],
    ['bad-metadata', '__metadata__ as a list', handmade({ __metadata__: ['a'] }, 0)],
    ['bad-entry', 'an entry that is a number', handmade({ w: 3 }, 0), 'w'],
    ['bad-entry', 'an entry that is null', handmade({ w: null }, 0), 'w'],
    ['bad-dtype', 'dtype F8', handmade({ w: { ...f32([1]), dtype: 'F8' } }, 4), 'w'],
    ['bad-dtype', "dtype 'toString' (an Object.prototype key)", handmade({ w: { ...f32([1]), dtype: 'toString' } }, 4), 'w'],
    ['bad-dtype', 'a missing dtype', handmade({ w: { shape: [1], data_offsets: [0, 4] } }, 4), 'w'],
    ['bad-shape', 'a negative dimension', handmade({ w: { ...f32([1]), shape: [-1] } }, 4), 'w'],
    ['bad-shape', 'a fractional dimension', handmade({ w: { ...f32([1]), shape: [1.5] } }, 4), 'w'],
    ['bad-shape', 'a string dimension', handmade({ w: { ...f32([1]), shape: ['1'] } }, 4), 'w'],
    ['bad-shape', 'an unsafe dimension', handmade({ w: { ...f32([1]), shape: [2 ** 60] } }, 4), 'w'],
    ['bad-shape', 'a shape that is not a list', handmade({ w: { ...f32([1]), shape: 4 } }, 4), 'w'],
    ['bad-offsets', 'reversed offsets', handmade({ w: { ...f32([1]), data_offsets: [4, 0] } }, 4), 'w'],
    ['bad-offsets', 'three offsets', handmade({ w: { ...f32([1]), data_offsets: [0, 4, 8] } }, 8), 'w'],
    ['bad-offsets', 'a negative offset', handmade({ w: { ...f32([1]), data_offsets: [-4, 0] } }, 4), 'w'],
    ['bad-offsets', 'missing offsets', handmade({ w: { dtype: 'F32', shape: [1] } }, 4), 'w'],
    ['shape-mismatch', 'a shape needing more bytes', handmade({ w: { ...f32([1]), shape: [2] } }, 8), 'w'],
    ['shape-mismatch', 'a shape whose byte count overflows', handmade({ w: { ...f32([1]), shape: [2 ** 30, 2 ** 30, 2 ** 30] } }, 4), 'w'],
    ['out-of-range', 'data past the end', handmade({ w: f32([4]) }, 8), 'w'],
    ['out-of-range', 'a zero-size tensor past the end', handmade({ a: f32([1]), z: { dtype: 'F32', shape: [0], data_offsets: [8, 8] } }, 4), 'z'],
    ['header-too-large', 'header length 100,000,001 (the format allows 100,000,000)', u64(100_000_001n, 10)],
    ['bad-json', 'a byte-order mark before the JSON', handmade('\ufeff{}', 0)],
    ['bad-json', 'a lone surrogate escape in a name', handmade('{"\\ud800": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', 4)],
    ['bad-json', 'a trailing comma', handmade('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},}', 4)],
    ['bad-json', 'text after the JSON object', handmade('{} {}', 0)],
    [
      'duplicate-key', 'a tensor named twice',
      handmade('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', 8), 'w',
    ],
    [
      'duplicate-key', 'a tensor named twice, once with escapes',
      handmade('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "\\u0077": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', 8), 'w',
    ],
    ['duplicate-key', 'an entry with two dtypes', handmade('{"w": {"dtype": "F32", "dtype": "I32", "shape": [1], "data_offsets": [0, 4]}}', 4), 'w'],
    ['duplicate-key', 'two __metadata__ entries', handmade('{"__metadata__": {}, "__metadata__": {"a": "b"}}', 0)],
    ['duplicate-key', 'a metadata key twice', handmade('{"__metadata__": {"a": "b", "a": "c"}}', 0)],
    ['bad-shape', 'a dimension written 2.0', handmade('{"w": {"dtype": "F32", "shape": [2.0, 2], "data_offsets": [0, 16]}}', 16), 'w'],
    ['bad-shape', 'a dimension written 2e0', handmade('{"w": {"dtype": "F32", "shape": [2e0], "data_offsets": [0, 8]}}', 8), 'w'],
    ['bad-shape', 'a dimension written -0', handmade('{"w": {"dtype": "F32", "shape": [-0, 1], "data_offsets": [0, 0]}}', 0), 'w'],
    ['bad-offsets', 'an offset written 4.0', handmade('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4.0]}}', 4), 'w'],
    ['bad-offsets', 'offsets as strings', handmade({ w: { ...f32([1]), data_offsets: ['0', '4'] } }, 4), 'w'],
    ['bad-offsets', 'one offset', handmade({ w: { ...f32([1]), data_offsets: [4] } }, 4), 'w'],
    [
      'shape-mismatch', 'a byte count that overflows 64 bits before a 0 dimension',
      handmade({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40, 0], data_offsets: [0, 0] } }, 0), 'w',
    ],
    ['gap', 'data that does not start at offset 0', handmade({ w: f32([1], 4) }, 8), 'w'],
    ['gap', 'a hole between two tensors', handmade({ a: f32([1]), b: f32([1], 8) }, 12), 'b'],
    ['trailing-bytes', 'bytes after the last tensor', handmade({ w: f32([1]) }, 5)],
    ['trailing-bytes', 'bytes after a header without tensors', handmade({}, 1)],
    ['overlap', 'a zero-size tensor inside another', handmade({ a: f32([2]), z: { dtype: 'F32', shape: [0], data_offsets: [4, 4] }, b: f32([1], 8) }, 12), 'z'],
    ['overlap', 'partly overlapping tensors', handmade({ a: f32([2]), b: f32([2], 4) }, 12), 'b'],
    ['overlap', 'two tensors on the same bytes', handmade({ a: f32([2]), b: f32([2]) }, 8)],
    ['overlap', 'a tensor inside another', handmade({ a: f32([4]), b: f32([1], 4) }, 16), 'b'],
  ];
  it.each(cases)('%s: %s', async (code, _what, bytes, tensor) => {
    const err = await open(bytes).catch((e) => e);
    expect(err).toBeInstanceOf(WeightsFormatError);
    expect(err.code).toBe(code);
    expect(err.file).toBe('bad.safetensors');
    expect(err.message).toContain('bad.safetensors');
    if (tensor) {
      expect(err.tensor).toBe(tensor);
      expect(err.message).toContain(`tensor '${tensor}'`);
    }
  });

  it('accepts zero-size tensors where the previous one ends, and key order different from offset order', async () => {
    const zero = (at: number) => ({ dtype: 'F32', shape: [0], data_offsets: [at, at] });
    const st = await open(handmade({ z: zero(4), b: f32([1], 4), a: f32([1]), first: zero(0), last: zero(8) }, 8));
    expect(st.names()).toEqual(['z', 'b', 'a', 'first', 'last']);
    expect((await st.read('z')).data.length).toBe(0);
    expect(st.info('b')).toMatchObject({ begin: 4, end: 8 });
  });

  it('accepts __metadata__: null as no metadata, JSON whitespace around the object, and unknown fields in an entry', async () => {
    expect((await open(handmade('{"__metadata__": null}', 0))).metadata).toEqual({});
    const st = await open(handmade(' \t\r\n{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "note": [1.5, {"x": null}]}} \n', 4));
    expect(st.info('w')).toMatchObject({ dtype: 'F32', shape: [1], begin: 0, end: 4 });
  });

  it('reads a key named __proto__ as a tensor like any other', async () => {
    const st = await open(handmade('{"__proto__": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}', 1));
    expect(st.names()).toEqual(['__proto__']);
    expect(st.info('__proto__').dtype).toBe('U8');
  });

  it('names the missing tensor and lists some that exist', async () => {
    const st = await open(writeSafetensors({ a: ALL_DTYPES.u8 }));
    const err = await st.read('b').catch((e) => e);
    expect(err.code).toBe('missing-tensor');
    expect(err.message).toMatch(/tensor 'b'.*it has 1: a/);
  });

  it('parseSafetensorsHeader checks that it was given the whole header', () => {
    const file = handmade({ a: f32([1]) }, 4);
    expect(() => parseSafetensorsHeader(file.subarray(0, 20), file.length, 'part')).toThrow(WeightsFormatError);
    expect(parseSafetensorsHeader(file, file.length, 'whole').tensors.get('a')).toMatchObject({ dtype: 'F32', byteLength: 4, begin: 0, end: 4 });
  });

  it('validates declared lengths before reading or allocating for them', async () => {
    const huge = 2 ** 50;
    const lying = recording(virtualSource('huge.safetensors', huge, [[0, u64(1n << 62n)]]));
    expect(await outcome(SafetensorsFile.open(lying))).toBe('header-too-large');
    expect(lying.largest()).toBeLessThanOrEqual(8);
    // A valid header for a 16 GiB tensor in a (virtual) file that holds it: opening is fine, reading it is refused.
    const header = handmade({ big: { dtype: 'F32', shape: [2 ** 32], data_offsets: [0, 2 ** 34] } }, 0);
    const big = recording(virtualSource('big.safetensors', header.length + 2 ** 34, [[0, header]]));
    const st = await SafetensorsFile.open(big);
    expect(await outcome(st.read('big'))).toBe('too-large');
    expect(big.largest()).toBe(header.length);
  });
});
