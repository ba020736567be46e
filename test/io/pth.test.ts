import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  bytesSource, loadPth, SafetensorsFile, stateDictFrom, toFloat32, WeightsFormatError, type ByteSource, type PthValue, type TensorData,
} from '../../src/io/index.js';
import { fixture, fixtureSource } from './io-fixtures.js';
import { bytesOf, Pickle, stateDictPickle, tensorOps, torchArchive, type TensorRecord } from './pickle-builder.js';
import { outcome, recording } from './sources.js';
import { buildZip } from './zip-builder.js';

const TORCH_TO_ST: Record<string, string> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', int64: 'I64' };
const meta = JSON.parse(readFileSync(fixture('pth_cases/meta.json'), 'utf8')) as { cases: Record<string, { keys: string[]; dtypes: Record<string, string> }> };
const same = (a: ArrayBufferView, b: ArrayBufferView) => Buffer.from(bytesOf(a)).equals(Buffer.from(bytesOf(b)));

/** Every tensor in a loaded tree by dotted path (the fixtures' naming). */
function tensorsByPath(v: unknown, prefix = '', out = new Map<string, TensorData>()): Map<string, TensorData> {
  if (v instanceof Map) for (const [k, x] of v) tensorsByPath(x, prefix ? `${prefix}.${String(k)}` : String(k), out);
  else if (v && typeof v === 'object' && 'dtype' in v && 'data' in v) out.set(prefix, v as TensorData);
  return out;
}

const load = (bytes: Uint8Array, opts = {}) => loadPth(bytesSource('test.pth', bytes), opts);
const errorOf = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a WeightsFormatError'); }, (e: unknown) => {
  if (!(e instanceof WeightsFormatError)) throw e;
  return e;
});

describe('torch.save fixtures', async () => {
  const expected = await SafetensorsFile.open(fixtureSource('pth_cases/expected.safetensors'));
  for (const [name, c] of Object.entries(meta.cases)) {
    it(`${name}.pth matches expected.safetensors bit for bit: ${c.keys.join(', ')}`, async () => {
      const tensors = tensorsByPath(await loadPth(fixtureSource(`pth_cases/${name}.pth`)));
      for (const key of c.keys) {
        const got = tensors.get(key);
        expect(got, key).toBeDefined();
        expect(got!.dtype, key).toBe(TORCH_TO_ST[c.dtypes[key]]);
        const want = await expected.read(`${name}/${key}`);
        expect(got!.shape, key).toEqual(want.shape);
        expect(got!.data.length, key).toBe(want.shape.reduce((a, b) => a * b, 1));
        expect(same(want.dtype === 'I64' ? got!.data : toFloat32(got!), want.data), key).toBe(true);
      }
    });
  }

  it('reads from a Node Buffer, and from a source returning Buffers, without aliasing the file', async () => {
    const file = readFileSync(fixture('pth_cases/dtypes.pth'));
    const asBuffers: ByteSource = { name: 'buffers.pth', size: file.length, read: async (o, l) => file.subarray(o, o + l) };
    for (const src of [bytesSource('buffer.pth', file), asBuffers]) {
      const sd = stateDictFrom(await loadPth(src));
      for (const [k, t] of sd) {
        expect(t.data.length, `${src.name} ${k}`).toBe(t.shape.reduce((a, b) => a * b, 1));
        expect(t.data.buffer.byteLength, `${src.name} ${k}`).toBe(t.data.byteLength);
      }
    }
  });

  it('checkpoint.pth keeps the non-tensor entries and its state dict is found', async () => {
    const ckpt = (await loadPth(fixtureSource('pth_cases/checkpoint.pth'))) as Map<string, PthValue>;
    expect(ckpt.get('epoch')).toBe(3);
    expect(ckpt.get('arch')).toBe('tiny');
    const sd = stateDictFrom(ckpt);
    expect([...sd.keys()].sort()).toEqual(meta.cases.checkpoint.keys.map((k) => k.replace('state_dict.', '')).sort());
    expect(sd.get('1.num_batches_tracked')!.name).toBe('1.num_batches_tracked');
  });

  it('resnet_A weights.pth equals weights.safetensors bit for bit, reading only storage-sized ranges', async () => {
    const src = recording(fixtureSource('resnet_A/weights.pth'));
    const pth = stateDictFrom(await loadPth(src));
    const st = await SafetensorsFile.open(fixtureSource('resnet_A/weights.safetensors'));
    expect(st.names().length).toBe(62);
    for (const k of st.names()) {
      const want = await st.read(k);
      const got = pth.get(k);
      expect(got?.dtype, k).toBe('F16');
      expect(got!.data, k).toBeInstanceOf(Uint16Array);
      expect(got!.shape, k).toEqual(want.shape);
      expect(same(got!.data, want.data), k).toBe(true);
    }
    expect([...pth.keys()].filter((k) => !st.has(k)).every((k) => k.endsWith('num_batches_tracked') && pth.get(k)!.dtype === 'I64')).toBe(true);
    expect(src.largest()).toBe(4718592); // the largest storage (layer4 conv), never the whole file
  });
});

// Synthetic archives: every dtype and view kind, built like torch.save.
const storage = (dtype: 'F32' | 'F64' | 'I8', n: number) => {
  const a = dtype === 'F32' ? new Float32Array(n) : dtype === 'F64' ? new Float64Array(n) : new Int8Array(n);
  for (let i = 0; i < n; i++) a[i] = dtype === 'I8' ? (i * 37) % 256 - 128 : i * 0.5 - 3;
  return a;
};
/** Reference gather, element by element. */
function view<T extends ArrayLike<number>>(src: T, offset: number, size: number[], stride: number[]): number[] {
  const out: number[] = [];
  const rec = (d: number, at: number) => {
    if (d === size.length) out.push(src[at]);
    else for (let i = 0; i < size[d]; i++) rec(d + 1, at + i * stride[d]);
  };
  rec(0, offset);
  return out;
}

describe('torch.save reader', () => {
  it('reads all ten dtypes', async () => {
    const cases: Array<[string, string, ArrayBufferView & ArrayLike<number | bigint>]> = [
      ['F32', 'FloatStorage', Float32Array.of(1.5, -2, NaN)], ['F16', 'HalfStorage', Uint16Array.of(0x3c00, 0x7e01, 0x8001)],
      ['BF16', 'BFloat16Storage', Uint16Array.of(0x3f80, 0xff80)], ['F64', 'DoubleStorage', Float64Array.of(Math.PI, -0)],
      ['I64', 'LongStorage', BigInt64Array.of(-(2n ** 62n), 7n)], ['I32', 'IntStorage', Int32Array.of(-(2 ** 31), 5)],
      ['I16', 'ShortStorage', Int16Array.of(-1, 32767)], ['I8', 'CharStorage', Int8Array.of(-128, 127)],
      ['U8', 'ByteStorage', Uint8Array.of(0, 255)], ['BOOL', 'BoolStorage', Uint8Array.of(1, 0, 1)],
    ];
    const records = Object.fromEntries(cases.map(([dtype, type, data], i) => [
      dtype, { storageKey: String(i), storageType: type, storageNumel: data.length, size: [data.length] } satisfies TensorRecord,
    ]));
    const archive = torchArchive(stateDictPickle(records), Object.fromEntries(cases.map(([, , data], i) => [String(i), bytesOf(data)])));
    const sd = stateDictFrom(await load(archive));
    for (const [dtype, , data] of cases) {
      const t = sd.get(dtype)!;
      expect(t.dtype).toBe(dtype);
      expect(t.data.constructor).toBe(dtype === 'BOOL' ? Uint8Array : data.constructor);
      expect(same(t.data, data), dtype).toBe(true);
    }
  });

  it('reads big-endian archives (byteorder "big") by swapping each element, for all ten dtypes', async () => {
    type Typed = ArrayBufferView & ArrayLike<number | bigint> & { BYTES_PER_ELEMENT: number };
    const cases: Array<[string, Typed]> = [
      ['FloatStorage', Float32Array.of(1.5, -2, NaN)], ['HalfStorage', Uint16Array.of(0x3c00, 0x7e01, 0x8001)],
      ['BFloat16Storage', Uint16Array.of(0x3f80, 0xff80)], ['DoubleStorage', Float64Array.of(Math.PI, -0)],
      ['LongStorage', BigInt64Array.of(-(2n ** 62n), 7n)], ['IntStorage', Int32Array.of(-(2 ** 31), 5)],
      ['ShortStorage', Int16Array.of(-1, 32767)], ['CharStorage', Int8Array.of(-128, 127)],
      ['ByteStorage', Uint8Array.of(0, 255)], ['BoolStorage', Uint8Array.of(1, 0, 1)],
    ];
    const bigEndian = (a: Typed) => {
      const size = a.BYTES_PER_ELEMENT;
      const le = bytesOf(a);
      return Uint8Array.from(le, (_, i) => le[i - (i % size) + size - 1 - (i % size)]);
    };
    const records = Object.fromEntries(cases.map(([type, data], i) => [
      type, { storageKey: String(i), storageType: type, storageNumel: data.length, size: [data.length] } satisfies TensorRecord,
    ]));
    const archive = torchArchive(stateDictPickle(records), Object.fromEntries(cases.map(([, data], i) => [String(i), bigEndian(data)])), { byteorder: 'big' });
    const sd = stateDictFrom(await load(archive));
    for (const [type, data] of cases) expect(same(sd.get(type)!.data, data), type).toBe(true);
    // A view of a big-endian storage is gathered from the swapped elements.
    const t = { storageKey: '0', storageType: 'DoubleStorage', storageNumel: 4, size: [2, 2], stride: [1, 2] } satisfies TensorRecord;
    const f64 = Float64Array.of(1, 2, 3, 4);
    const viewed = stateDictFrom(await load(torchArchive(stateDictPickle({ t }), { 0: bigEndian(f64) }, { byteorder: 'big' })));
    expect(Array.from(viewed.get('t')!.data as Float64Array)).toEqual([1, 3, 2, 4]);
  });

  it('materialises views: permuted, offset, step-sliced, broadcast (stride 0), 0-dim, empty, 1- and 8-byte elements', async () => {
    const f32 = storage('F32', 60);
    const f64 = storage('F64', 12);
    const i8 = storage('I8', 24);
    const views: Record<string, [TensorRecord, number[]]> = {};
    const add = (name: string, key: string, type: string, src: ArrayLike<number>, offset: number, size: number[], stride: number[]) => {
      views[name] = [{ storageKey: key, storageType: type, storageNumel: src.length, offset, size, stride }, view(src, offset, size, stride)];
    };
    add('whole', 'f', 'FloatStorage', f32, 0, [3, 4, 5], [20, 5, 1]);
    add('permuted', 'f', 'FloatStorage', f32, 0, [5, 3, 4], [1, 20, 5]);
    add('offset_rows', 'f', 'FloatStorage', f32, 25, [2, 5], [5, 1]);
    add('step_slice', 'f', 'FloatStorage', f32, 3, [3, 2, 2], [20, 10, 2]);
    add('broadcast', 'f', 'FloatStorage', f32, 7, [4, 3], [0, 1]);
    add('size1_dims_any_stride', 'f', 'FloatStorage', f32, 2, [1, 4, 1], [999, 1, 123]);
    add('scalar', 'f', 'FloatStorage', f32, 59, [], []);
    add('empty', 'f', 'FloatStorage', f32, 0, [0, 4], [4, 1]);
    add('f64_transposed', 'd', 'DoubleStorage', f64, 0, [4, 3], [1, 4]);
    add('i8_strided', 'c', 'CharStorage', i8, 1, [3, 4], [8, 2]);
    const archive = torchArchive(
      stateDictPickle(Object.fromEntries(Object.entries(views).map(([k, [r]]) => [k, r]))),
      { f: bytesOf(f32), d: bytesOf(f64), c: bytesOf(i8) },
    );
    const sd = stateDictFrom(await load(archive));
    for (const [name, [record, want]] of Object.entries(views)) {
      const t = sd.get(name)!;
      expect(t.shape, name).toEqual(record.size);
      expect(Array.from(t.data as ArrayLike<number>), name).toEqual(want);
    }
    // A tensor covering its whole storage shares the storage's buffer; views get copies.
    expect(sd.get('whole')!.data.buffer).not.toBe(sd.get('permuted')!.data.buffer);
  });

  it('shares one TensorData for one pickled tensor referenced twice, and unwraps parameters', async () => {
    const data = Float32Array.of(1, 2, 3, 4);
    const rec: TensorRecord = { storageKey: '0', storageType: 'FloatStorage', storageNumel: 4, size: [2, 2] };
    const p = new Pickle().proto(2).global('collections', 'OrderedDict').tuple(0).op(0x52).mark();
    tensorOps(p.str('a'), rec).put(100);
    p.str('tied').get(100);
    tensorOps(p.str('param'), { ...rec, wrap: 'parameter' });
    tensorOps(p.str('from_type'), { ...rec, wrap: 'from-type' });
    p.str('tied_by_storage');
    tensorOps(p, rec);
    const sd = stateDictFrom(await load(torchArchive(p.op(0x75).stop().bytes(), { 0: bytesOf(data) })));
    expect(sd.get('tied')!.data).toBe(sd.get('a')!.data);
    for (const k of ['a', 'param', 'from_type', 'tied_by_storage']) expect(Array.from(sd.get(k)!.data as Float32Array), k).toEqual([1, 2, 3, 4]);
  });

  it('keeps lists, tuples, numbers, strings and protocol-2 bytes around the tensors', async () => {
    const p = new Pickle().proto(2).op(0x7d).mark()
      .str('list').op(0x5d).mark().int(1).float(0.5).str('s').op(0x65)
      .str('tuple').int(1).int(2).tuple(2)
      .str('bytes').global('_codecs', 'encode').str('\u00ffA').str('latin1').tuple(2).op(0x52)
      .str('none').none()
      .op(0x75).stop();
    const tree = (await load(torchArchive(p.bytes(), {}))) as Map<string, unknown>;
    expect(tree.get('list')).toEqual([1, 0.5, 's']);
    expect(tree.get('tuple')).toEqual([1, 2]);
    expect(tree.get('bytes')).toEqual(Uint8Array.of(255, 65));
    expect(tree.get('none')).toBe(null);
  });

  it('resolves a list that contains itself without looping', async () => {
    const p = new Pickle().proto(2).op(0x5d).put(0).get(0).op(0x61).stop();
    const list = (await load(torchArchive(p.bytes(), {}))) as unknown[];
    expect(list[0]).toBe(list);
  });

  it('finds the state dict in checkpoint layouts', async () => {
    const t = { storageKey: '0', storageType: 'FloatStorage', storageNumel: 1, size: [1] };
    const build = (layout: (p: Pickle) => void) => {
      const p = new Pickle().proto(2);
      layout(p);
      return load(torchArchive(p.stop().bytes(), { 0: bytesOf(Float32Array.of(9)) }));
    };
    const dict = (p: Pickle, entries: Array<[string, (p: Pickle) => void]>) => {
      p.op(0x7d).mark();
      for (const [k, v] of entries) v(p.str(k));
      p.op(0x75);
    };
    const tensor = (p: Pickle) => tensorOps(p, t);
    const number = (p: Pickle) => p.int(1);
    const layouts: Array<[string, (p: Pickle) => void, string[]]> = [
      ['a plain state dict', (p) => dict(p, [['w', tensor], ['b', tensor]]), ['w', 'b']],
      [
        "{'model': sd, 'optimizer': ...}",
        (p) => dict(p, [
          ['epoch', number], ['model', (q) => dict(q, [['w', tensor]])], ['optimizer', (q) => dict(q, [['state', (r) => dict(r, [['m', tensor]])]])],
        ]),
        ['w'],
      ],
      ["{'model_state_dict': sd}", (p) => dict(p, [['model_state_dict', (q) => dict(q, [['x', tensor]])], ['step', number]]), ['x']],
      ['nested dicts, flattened', (p) => dict(p, [['enc', (q) => dict(q, [['w', tensor]])], ['dec', (q) => dict(q, [['w', tensor]])]]), ['enc.w', 'dec.w']],
    ];
    for (const [what, layout, keys] of layouts) expect([...stateDictFrom(await build(layout)).keys()], what).toEqual(keys);
    const err = (() => { try { stateDictFrom(new Map([['epoch', 3]]), 'x.pth'); } catch (e) { return e as WeightsFormatError; } })();
    expect(err?.code).toBe('no-state-dict');
    expect(err?.message).toMatch(/x\.pth.*"epoch"/);
  });
});

describe('torch.save reader refuses', () => {
  const f4 = bytesOf(Float32Array.of(1, 2, 3, 4));
  const rec: TensorRecord = { storageKey: '0', storageType: 'FloatStorage', storageNumel: 4, size: [4] };
  const archive = (r: Partial<TensorRecord>, storages: Record<string, Uint8Array> = { 0: f4 }, opts = {}) =>
    torchArchive(stateDictPickle({ 'layer.weight': { ...rec, ...r } }), storages, opts);

  const refusals: Array<[string, string, () => Uint8Array, string?]> = [
    ['bad-pth', 'a missing storage record', () => archive({}, {}), 'layer.weight'],
    ['truncated', 'a storage shorter than its numel', () => archive({}, { 0: f4.subarray(0, 12) }), 'layer.weight'],
    ['out-of-range', 'a view past its storage', () => archive({ offset: 2, size: [3] }), 'layer.weight'],
    ['out-of-range', 'a strided view past its storage', () => archive({ size: [2, 2], stride: [3, 1] }), 'layer.weight'],
    ['bad-pth', 'a byteorder record that is neither "little" nor "big"', () => archive({}, { 0: f4 }, { byteorder: 'middle' })],
    ['bad-pth', 'an archive without data.pkl', () => torchArchive(new Uint8Array(0), {}, { archive: 'a/b' })],
    ['bad-pth', 'an archive with two data.pkl', () => archive({}, { 0: f4 }, { extra: [{ name: 'other/data.pkl', data: new Uint8Array(1) }] })],
    ['compressed-zip', 'a compressed data.pkl', () => buildZip([{ name: 'archive/data.pkl', data: new Pickle().proto(2).none().stop().bytes(), method: 8 }])],
    ['disallowed-global', 'an unknown storage type', () => archive({ storageType: 'QInt8Storage' })],
    ['bad-dtype', 'a complex storage type', () => archive({ storageType: 'ComplexFloatStorage', storageNumel: 2 }), 'layer.weight'],
    ['bad-pth', 'a malformed persistent id', () => torchArchive(new Pickle().proto(2).str('storage').tuple(1).op(0x51).stop().bytes(), {})],
    [
      'disallowed-global', 'calling a storage class',
      () => torchArchive(new Pickle().proto(2).global('torch', 'FloatStorage').tuple(0).op(0x52).stop().bytes(), {}),
    ],
    [
      'bad-pth', 'a tensor rebuilt from a non-storage',
      () => torchArchive(
        new Pickle().proto(2).global('torch._utils', '_rebuild_tensor_v2').mark().int(1).int(0).ints([1]).ints([1]).op(0x74).op(0x52).stop().bytes(),
        {},
      ),
    ],
    [
      'bad-pth', 'a negative size',
      () => torchArchive(
        new Pickle().proto(2).global('torch._utils', '_rebuild_tensor_v2').mark().mark()
          .str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(4).op(0x74).op(0x51)
          .int(0).int(-1).tuple(1).ints([1]).op(0x74).op(0x52).stop().bytes(),
        { 0: f4 },
      ),
    ],
    [
      'bad-pickle', 'lists nested 10000 deep',
      () => torchArchive(Uint8Array.from([0x80, 2, ...new Array(10000).fill(0x5d), ...new Array(9999).fill(0x61), 0x2e]), {}),
    ],
    [
      'legacy-pth', 'a legacy (torch < 1.6) file',
      () => Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]),
    ],
    ['legacy-pth', 'a bare protocol-4 pickle', () => new Pickle().proto(4).none().stop().bytes()],
    ['bad-zip', 'a file that is neither', () => new TextEncoder().encode('{"not": "a checkpoint at all"}')],
  ];
  it.each(refusals)('(%s) %s', async (code, _, make, tensor) => {
    const err = await errorOf(load(make()));
    expect(err.code).toBe(code);
    expect(err.file).toBe('test.pth');
    if (tensor) expect(err.message).toContain(`tensor '${tensor}'`);
  });

  it('explains legacy files', async () => {
    const err = await errorOf(load(Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e])));
    expect(err.message).toMatch(/re-save it with torch >= 1\.6 \(torch\.save\(state_dict, path\)\), or convert it to safetensors/);
  });

  it('bounds the copies made for views of shared storages', async () => {
    const p = new Pickle().proto(2).op(0x5d).mark();
    for (let i = 0; i < 50; i++) tensorOps(p, { ...rec, size: [1000, 4], stride: [0, 1] }); // 50 broadcasts of 16 kB
    const bytes = torchArchive(p.op(0x65).stop().bytes(), { 0: f4 });
    expect(await outcome(load(bytes, { maxViewBytes: 100_000 }))).toBe('too-large');
    expect(await outcome(load(bytes))).toBe('ok');
    // A huge storage that is claimed but never read must not raise the allowance.
    const claim = new Pickle().proto(2).op(0x5d).mark();
    claim.mark().str('storage').global('torch', 'FloatStorage').str('1').str('cpu').int(2 ** 40).op(0x74).op(0x51);
    tensorOps(claim, { ...rec, size: [2 ** 26, 4], stride: [0, 1] }); // a 1 GiB broadcast of 16 bytes
    expect(await outcome(load(torchArchive(claim.op(0x65).stop().bytes(), { 0: f4 })))).toBe('too-large');
  });

  for (const [module, name] of [
    ['os', 'system'], ['builtins', 'eval'], ['posix', 'system'], ['subprocess', 'Popen'], ['torch', 'load'], ['__builtin__', 'getattr'],
  ]) {
    it(`a pickle calling ${module}.${name} inside a valid archive, naming the global`, async () => {
      const evil = new Pickle().proto(2).global(module, name).str('touch /tmp/pwned').tuple(1).op(0x52).stop().bytes();
      const err = await errorOf(load(torchArchive(evil, {})));
      expect(err.code).toBe('disallowed-global');
      expect(err.message).toContain(`refusing to load global ${module}.${name}`);
    });
  }

  it('a malicious global hidden after valid tensors, and one smuggled into _rebuild_from_type_v2', async () => {
    const p = new Pickle().proto(2).global('collections', 'OrderedDict').tuple(0).op(0x52).mark();
    tensorOps(p.str('ok'), rec);
    p.str('evil').global('os', 'system').str('id').tuple(1).op(0x52).op(0x75).stop();
    expect((await errorOf(load(torchArchive(p.bytes(), { 0: f4 })))).message).toContain('os.system');
    const smuggled = new Pickle().proto(2).global('torch._tensor', '_rebuild_from_type_v2').mark()
      .global('torch', 'Tensor').global('torch', 'Tensor').tuple(0).op(0x7d).op(0x74).op(0x52).stop();
    const err = await errorOf(load(torchArchive(smuggled.bytes(), {})));
    expect(err.message).toContain('torch.Tensor');
  });
});
