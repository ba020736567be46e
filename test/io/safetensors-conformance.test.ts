import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource, SafetensorsFile, toFloat32, WeightsFormatError, writeSafetensors, type DType, type TensorToWrite } from '../../src/io/index.js';
import { float8E4M3BitsToFloat32, float8E5M2BitsToFloat32 } from '../../src/io/dtype.js';

// Expectations from the format and its reference implementation (the Rust safetensors crate), never
// from this code's output: the crate's own test vectors, layout rules restated here, and values
// computed by hand from the dtype definitions.

/** A byte string written as in the crate's tests (b"<\x00..."): one byte per character. */
const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const open = (b: Uint8Array) => SafetensorsFile.open(bytesSource('conformance.safetensors', b));
const refusal = async (b: Uint8Array) => {
  const e = await open(b).catch((x: unknown) => x);
  if (!(e instanceof WeightsFormatError)) throw new Error(`expected a WeightsFormatError, got ${e instanceof Error ? e.message : 'success'}`);
  return e.code;
};
const f32le = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

/** The crate's Dtype enum, in declaration order; its writer sorts by it, descending, then by name. */
const CRATE_DTYPE_ORDER: DType[] = ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'];
const ELEMENT_BYTES: Record<DType, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};
/** Rust compares Strings by UTF-8 bytes, i.e. by code point. */
const byCodePoint = (a: string, b: string) => {
  const [x, y] = [[...a].map((c) => c.codePointAt(0)!), [...b].map((c) => c.codePointAt(0)!)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
};

describe('the writer, byte for byte against the reference crate', () => {
  const zeroToFive = f32le(0, 1, 2, 3, 4, 5);

  it('test_empty: "{}" padded with spaces to 8 bytes, with and without metadata', () => {
    expect(Array.from(writeSafetensors({}))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect(Array.from(writeSafetensors({}, { framework: 'pt' }))).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
      95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
      116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
  });

  it('test_serialization: a 64-byte header needs no padding', () => {
    expect(Array.from(writeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: zeroToFive } }))).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
      116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
      58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
      101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
      0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
  });

  it('test_serialization_forced_alignement: 7 spaces move the data to offset 80', () => {
    expect(Array.from(writeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: zeroToFive } }))).toEqual([
      72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
      121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
      91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
      115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
      32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
      160, 64,
    ]);
  });

  // Every dtype, names whose alphabetical order is not the dtype order, and names that JS's UTF-16
  // sort would order differently from Rust's (U+FF58 before U+1D465 by code point, after it by code unit).
  const names: Array<[string, DType, number]> = [
    ['a.bool', 'BOOL', 3], ['b.u8', 'U8', 1], ['c.f64', 'F64', 2], ['d.f16', 'F16', 3], ['e.i64', 'I64', 1], ['f.f32', 'F32', 1],
    ['g.bf16', 'BF16', 1], ['h.i32', 'I32', 1], ['i.i16', 'I16', 1], ['j.i8', 'I8', 1], ['k.u16', 'U16', 1], ['l.u32', 'U32', 1],
    ['m.u64', 'U64', 1], ['n.e4m3', 'F8_E4M3', 3], ['o.e5m2', 'F8_E5M2', 2], ['A.f64', 'F64', 1],
    ['ä.f32', 'F32', 1], ['\uff58', 'F32', 1], ['\u{1d465}', 'F32', 1],
  ];
  const tensors: Record<string, TensorToWrite> = Object.fromEntries(names.map(([n, dtype, count], i) => [
    n, { dtype, shape: [count], data: new Uint8Array(count * ELEMENT_BYTES[dtype]).fill(i + 1) },
  ]));

  it('orders a mixed-dtype file as the crate does: dtype (its enum, descending), then name by code point', async () => {
    const file = writeSafetensors(tensors, { format: 'pt' });
    // safetensors 0.8.0's serialize() of the same tensors and metadata, hashed.
    expect(createHash('sha256').update(file).digest('hex')).toBe('b40939a5d129b8f8786b9012837e3729f9e7564b642d2118dc2165c259352baa');
    const st = await open(file);
    const byOffset = st.names().sort((a, b) => st.info(a).begin - st.info(b).begin);
    expect(byOffset).toEqual([
      'm.u64', 'e.i64', 'A.f64', 'c.f64', 'f.f32', 'ä.f32', '\uff58', '\u{1d465}', 'l.u32', 'h.i32',
      'g.bf16', 'd.f16', 'k.u16', 'i.i16', 'n.e4m3', 'o.e5m2', 'j.i8', 'b.u8', 'a.bool',
    ]);
    expect(st.names()).toEqual(byOffset); // the header lists them in the same order
    expect(st.header.dataOffset % 8).toBe(0);
    for (const n of byOffset) expect(st.info(n).begin % ELEMENT_BYTES[st.info(n).dtype], n).toBe(0);
  });

  it('refuses a header over 100,000,000 bytes (test_invalid_header_size_serialization)', () => {
    expect(() => writeSafetensors({}, { very_large_metadata: 'a'.repeat(100_000_000) })).toThrow(/100,000,000/);
  });
});

describe('a mixed-dtype round trip', () => {
  const values: Record<string, TensorToWrite> = {
    a_bool: { dtype: 'BOOL', shape: [3], data: Uint8Array.of(1, 0, 1) },
    b_u8: { dtype: 'U8', shape: [3], data: Uint8Array.of(0, 128, 255) },
    c_f64: { dtype: 'F64', shape: [2], data: Float64Array.of(Math.PI, -1e300) },
    d_f16: { dtype: 'F16', shape: [3], data: Uint16Array.of(0x3c00, 0xc000, 0x7bff) }, // 1, -2, 65504
    e_i64: { dtype: 'I64', shape: [2], data: BigInt64Array.of(-(2n ** 62n), 7n) },
    f_f32: { dtype: 'F32', shape: [1, 3], data: Float32Array.of(0.5, -0, Infinity) },
    g_bf16: { dtype: 'BF16', shape: [1], data: Uint16Array.of(0x3f80) }, // 1
    h_i32: { dtype: 'I32', shape: [3], data: Int32Array.of(-(2 ** 31), 0, 2 ** 31 - 1) },
    i_i16: { dtype: 'I16', shape: [1], data: Int16Array.of(-7) },
    j_i8: { dtype: 'I8', shape: [1], data: Int8Array.of(-128) },
    k_u16: { dtype: 'U16', shape: [2], data: Uint16Array.of(0, 65535) },
    l_u32: { dtype: 'U32', shape: [2], data: Uint32Array.of(3, 4294967295) },
    m_u64: { dtype: 'U64', shape: [2], data: BigUint64Array.of(5n, 2n ** 64n - 1n) },
    n_e4m3: { dtype: 'F8_E4M3', shape: [2], data: Uint8Array.of(0x38, 0x7e) }, // 1, 448
    o_e5m2: { dtype: 'F8_E5M2', shape: [2], data: Uint8Array.of(0x3c, 0x7b) }, // 1, 57344
    p_f64_scalar: { dtype: 'F64', shape: [], data: Float64Array.of(2.5) },
    q_empty: { dtype: 'I64', shape: [0, 2], data: new BigInt64Array(0) },
  };

  it('puts every tensor at a multiple of its element size, in a data section at a multiple of 8, and keeps every bit', async () => {
    const file = writeSafetensors(values, { format: 'pt' });
    const st = await open(file);
    expect(st.header.dataOffset % 8).toBe(0);
    const rank = (n: string) => CRATE_DTYPE_ORDER.indexOf(values[n].dtype);
    const expected = Object.keys(values).sort((a, b) => rank(b) - rank(a) || byCodePoint(a, b));
    expect(st.names().sort((a, b) => st.info(a).begin - st.info(b).begin || st.info(a).end - st.info(b).end)).toEqual(expected);
    for (const [n, t] of Object.entries(values)) {
      const info = st.info(n);
      expect(info.begin % ELEMENT_BYTES[t.dtype], n).toBe(0);
      expect((st.header.dataOffset + info.begin) % ELEMENT_BYTES[t.dtype], n).toBe(0);
      const got = await st.read(n);
      expect([got.dtype, got.shape], n).toEqual([t.dtype, [...t.shape]]);
      expect(
        Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
        n,
      ).toBe(true);
    }
    const f32 = async (n: string) => Array.from(toFloat32(await st.read(n)));
    expect(await f32('d_f16')).toEqual([1, -2, 65504]);
    expect(await f32('g_bf16')).toEqual([1]);
    expect(await f32('k_u16')).toEqual([0, 65535]);
    expect(await f32('n_e4m3')).toEqual([1, 448]);
    expect(await f32('o_e5m2')).toEqual([1, 57344]);
    expect(await f32('m_u64')).toEqual([5, 2 ** 64]); // 2^64 - 1 rounds up to 2^64
  });
});

describe('the reader on the crate\'s test vectors', () => {
  const body = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';
  const sixteen = '\x00'.repeat(16);

  it('test_deserialization, test_zero_sized_tensor, test_empty_shapes_allowed, whitespace-padded headers', async () => {
    const st = await open(bytes(`<\x00\x00\x00\x00\x00\x00\x00${body}${sixteen}`));
    expect(st.names()).toEqual(['test']);
    expect(st.info('test')).toMatchObject({ dtype: 'I32', shape: [2, 2] });
    expect(Array.from((await st.read('test')).data as Int32Array)).toEqual([0, 0, 0, 0]);
    const zero = await open(bytes('<\x00\x00\x00\x00\x00\x00\x00{"test":{"dtype":"I32","shape":[2,0],"data_offsets":[0, 0]}}'));
    expect(zero.info('test').shape).toEqual([2, 0]);
    expect((await zero.read('test')).data.length).toBe(0);
    const scalar = await open(bytes('8\x00\x00\x00\x00\x00\x00\x00{"test":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}\x00\x00\x00\x00'));
    expect(scalar.info('test').shape).toEqual([]);
    expect((await open(bytes('\x06\x00\x00\x00\x00\x00\x00\x00{}\x0D\x20\x09\x0A'))).names()).toEqual([]);
    expect((await open(bytes('\x06\x00\x00\x00\x00\x00\x00\x00\x09\x0A{}\x0D\x20'))).names()).toEqual([]);
  });

  it.each([
    [
      'test_metadata_incomplete_buffer (bytes after the data)',
      `<\x00\x00\x00\x00\x00\x00\x00${body}${sixteen}extra_bogus_data_for_polyglot_file`,
      'trailing-bytes',
    ],
    ['test_metadata_incomplete_buffer (2 bytes missing)', `<\x00\x00\x00\x00\x00\x00\x00${body}${'\x00'.repeat(14)}`, 'out-of-range'],
    ['test_header_too_large', `<\x00\x00\x00\x00\xff\xff\xff${body}${sixteen}`, 'header-too-large'],
    ['test_header_too_small', '', 'truncated'],
    ['test_invalid_header_length', '<\x00\x00\x00\x00\x00\x00\x00', 'header-too-large'],
    ['test_invalid_header_non_utf8', '\x01\x00\x00\x00\x00\x00\x00\x00\xff', 'header-too-small'],
    ['test_invalid_header_non_utf8 (a longer header)', '\x02\x00\x00\x00\x00\x00\x00\x00{\xff', 'bad-json'],
    ['test_invalid_header_not_json', '\x01\x00\x00\x00\x00\x00\x00\x00{', 'header-too-small'],
    ['test_invalid_header_not_json (a longer header)', '\x02\x00\x00\x00\x00\x00\x00\x00{ ', 'bad-json'],
    ['test_invalid_info', '<\x00\x00\x00\x00\x00\x00\x00{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0, 4]}}', 'shape-mismatch'],
    [
      'test_validation_overflow (shape)',
      `O\x00\x00\x00\x00\x00\x00\x00{"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}${sixteen}`,
      'bad-shape',
    ],
    [
      'test_validation_overflow (bytes)',
      `N\x00\x00\x00\x00\x00\x00\x00{"test":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}}${sixteen}`,
      'bad-shape',
    ],
  ])('refuses %s', async (_what, file, code) => {
    expect(await refusal(bytes(file))).toBe(code);
  });

  it('test_json_attack: ten tensors on the same 16 bytes', async () => {
    const entries = Array.from({ length: 10 }, (_, i) => `"weight_${i}":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}`);
    const header = `{${entries.join(',')}}`;
    const file = new Uint8Array(8 + header.length + 16);
    new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
    file.set(bytes(header), 8);
    expect(await refusal(file)).toBe('overlap');
  });
});

describe('the reader enforces the layout rules', () => {
  /** A file with a header written as given and `data` bytes 0, 1, 2... */
  const file = (header: string, data: number, declared?: number) => {
    const h = new TextEncoder().encode(header);
    const out = new Uint8Array(8 + h.length + data);
    new DataView(out.buffer).setBigUint64(0, BigInt(declared ?? h.length), true);
    out.set(h, 8);
    for (let i = 0; i < data; i++) out[8 + h.length + i] = i;
    return out;
  };
  const two = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';

  it('accepts tensors that tile the data section exactly, whatever the key order', async () => {
    const st = await open(file('{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 8));
    expect(Array.from((await st.read('b')).data as Float32Array)).toEqual(Array.from(new Float32Array(Uint8Array.of(4, 5, 6, 7).buffer)));
  });

  it('refuses a header length off by a few bytes, which would shift every tensor', async () => {
    const good = file(`${two}    `, 8);
    await open(good);
    for (const delta of [-4, -1, 1, 4]) {
      const b = good.slice();
      new DataView(b.buffer).setBigUint64(0, BigInt(two.length + 4 + delta), true);
      expect(await refusal(b), `delta ${delta}`).not.toBe('ok');
    }
  });

  it.each([
    ['a hole between tensors', '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[6,10]}}', 10, 'gap'],
    ['data not starting at 0', '{"a":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}', 6, 'gap'],
    ['bytes after the last tensor', two, 9, 'trailing-bytes'],
    ['overlapping tensors', '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8, 'overlap'],
    [
      'a repeated tensor name',
      `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`,
      8, 'duplicate-key',
    ],
    ['a shape entry written 2.0', '{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', 8, 'bad-shape'],
    ['an unknown dtype', '{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}', 1, 'bad-dtype'],
    ['begin after end', '{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}', 4, 'bad-offsets'],
  ])('refuses %s', async (_what, header, data, code) => {
    expect(await refusal(file(header, data))).toBe(code);
  });

  it('names the file, the tensor and the fault, and lists the known dtypes', async () => {
    const message = (b: Uint8Array) => open(b).then(() => 'accepted', (x: Error) => x.message);
    expect(await message(file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[6,10]}}', 10)))
      .toMatch(/^cflens: conformance\.safetensors \(tensor 'b'\): .*'a', ends at 4: the 2 bytes \[4, 6\) belong to no tensor/);
    const d = await message(file('{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}', 1));
    expect(d).toContain("(tensor 'a')");
    for (const known of CRATE_DTYPE_ORDER) expect(d).toContain(known);
  });

  it('reads __metadata__: null as no metadata', async () => {
    expect((await open(file('{"__metadata__":null}', 0))).metadata).toEqual({});
  });
});

describe('dtype conversions to f32, from the format definitions', () => {
  /** Value of a sign/exponent/mantissa byte: bias 2^(E-1)-1; "fn" formats have no infinities and one NaN per sign. */
  function minifloat(b: number, E: number, M: number, fn: boolean): number {
    const sign = b & 0x80 ? -1 : 1;
    const e = (b >> M) & ((1 << E) - 1);
    const m = b & ((1 << M) - 1);
    const bias = 2 ** (E - 1) - 1;
    const top = (1 << E) - 1;
    if (fn && e === top && m === (1 << M) - 1) return NaN;
    if (!fn && e === top) return m ? NaN : sign * Infinity;
    return sign * (e === 0 ? (m / 2 ** M) * 2 ** (1 - bias) : (1 + m / 2 ** M) * 2 ** (e - bias));
  }
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);

  it('F8_E4M3 (float8_e4m3fn): landmarks', () => {
    const v = (b: number) => float8E4M3BitsToFloat32(Uint8Array.of(b))[0];
    expect(v(0x00)).toBe(0);
    expect(Object.is(v(0x80), -0)).toBe(true);
    expect(v(0x01)).toBe(2 ** -9); // smallest subnormal: 1/8 × 2^-6
    expect(v(0x07)).toBe(7 * 2 ** -9); // largest subnormal
    expect(v(0x08)).toBe(2 ** -6); // smallest normal
    expect(v(0x38)).toBe(1);
    expect(v(0x3c)).toBe(1.5);
    expect(v(0xc4)).toBe(-3);
    expect(v(0x78)).toBe(256); // exponent 15 is a normal exponent here, not infinity
    expect(v(0x7e)).toBe(448); // the largest value
    expect(v(0xfe)).toBe(-448);
    expect(v(0x7f)).toBeNaN();
    expect(v(0xff)).toBeNaN();
  });

  it('F8_E5M2: landmarks, infinities and NaNs', () => {
    const v = (b: number) => float8E5M2BitsToFloat32(Uint8Array.of(b))[0];
    expect(v(0x00)).toBe(0);
    expect(Object.is(v(0x80), -0)).toBe(true);
    expect(v(0x01)).toBe(2 ** -16); // smallest subnormal: 1/4 × 2^-14
    expect(v(0x03)).toBe(3 * 2 ** -16);
    expect(v(0x04)).toBe(2 ** -14); // smallest normal
    expect(v(0x3c)).toBe(1);
    expect(v(0xc0)).toBe(-2);
    expect(v(0x7b)).toBe(57344); // the largest finite value: 1.75 × 2^15
    expect(v(0x7c)).toBe(Infinity);
    expect(v(0xfc)).toBe(-Infinity);
    for (const nan of [0x7d, 0x7e, 0x7f, 0xfd, 0xfe, 0xff]) expect(v(nan)).toBeNaN();
  });

  it('every F8 bit pattern matches the definition', () => {
    const e4 = float8E4M3BitsToFloat32(all);
    const e5 = float8E5M2BitsToFloat32(all);
    const wrong: string[] = [];
    for (let b = 0; b < 256; b++) {
      const [x, y] = [minifloat(b, 4, 3, true), minifloat(b, 5, 2, false)];
      if (!(Object.is(e4[b], x) || (Number.isNaN(x) && Number.isNaN(e4[b])))) wrong.push(`E4M3 0x${b.toString(16)}: ${e4[b]} ≠ ${x}`);
      if (!(Object.is(e5[b], y) || (Number.isNaN(y) && Number.isNaN(e5[b])))) wrong.push(`E5M2 0x${b.toString(16)}: ${e5[b]} ≠ ${y}`);
    }
    expect(wrong).toEqual([]);
  });

  it('U16, U32, U64 and I64 round once to the nearest f32, ties to even (as torch .float() does)', () => {
    expect(Array.from(toFloat32({ dtype: 'U16', data: Uint16Array.of(0, 1, 65535) }))).toEqual([0, 1, 65535]);
    // 2^24 + 1 is a tie between 2^24 and 2^24 + 2: even wins; 2^24 + 3 is a tie between + 2 and + 4: + 4.
    expect(Array.from(toFloat32({ dtype: 'U32', data: Uint32Array.of(2 ** 24 + 1, 2 ** 24 + 3, 2 ** 32 - 1) }))).toEqual([2 ** 24, 2 ** 24 + 4, 2 ** 32]);
    // 2^60 + 2^36 + 1 is just above halfway between the f32 neighbours 2^60 and 2^60 + 2^37, so it rounds
    // up; through an f64 it would first become 2^60 + 2^36, an exact tie, and then round to even (down).
    const tricky = 2n ** 60n + 2n ** 36n + 1n;
    expect(Array.from(toFloat32({ dtype: 'U64', data: BigUint64Array.of(0n, 2n ** 53n + 1n, tricky, 2n ** 64n - 1n) })))
      .toEqual([0, 2 ** 53, 2 ** 60 + 2 ** 37, 2 ** 64]);
    expect(Array.from(toFloat32({ dtype: 'I64', data: BigInt64Array.of(-tricky, -(2n ** 63n), 2n ** 24n + 1n) })))
      .toEqual([-(2 ** 60 + 2 ** 37), -(2 ** 63), 2 ** 24]);
  });
});

describe('the shipped weights', () => {
  const root = new URL('../../models/defaults/', import.meta.url).pathname;
  const files = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `${d.name}/model.safetensors`);

  it.each(files)('%s follows the reference writer\'s layout', async (rel) => {
    const raw = new Uint8Array(readFileSync(`${root}${rel}`));
    const st = await SafetensorsFile.open(bytesSource(rel, raw));
    expect(st.header.dataOffset % 8).toBe(0);
    const header = new TextDecoder().decode(raw.subarray(8, st.header.dataOffset));
    expect(header.trimEnd().endsWith('}')).toBe(true);
    expect(/^ *$/.test(header.slice(header.trimEnd().length))).toBe(true);
    const rank = (n: string) => CRATE_DTYPE_ORDER.indexOf(st.info(n).dtype);
    const byOffset = st.names().sort((a, b) => st.info(a).begin - st.info(b).begin || st.info(a).end - st.info(b).end);
    expect(byOffset).toEqual([...byOffset].sort((a, b) => rank(b) - rank(a) || byCodePoint(a, b)));
    for (const n of byOffset) expect(st.info(n).begin % ELEMENT_BYTES[st.info(n).dtype], n).toBe(0);
  });
});
