import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource, loadPth, stateDictFrom, WeightsFormatError } from '../../src/io/index.js';
import { openLegacyPth } from '../../src/io/pth-legacy.js';
import { bytesOf, LEGACY_MAGIC, legacyPth, Pickle, stateDictPickle, tensorOps, type TensorRecord } from './pickle-builder.js';
import { outcome, recording, rng } from './sources.js';

// Legacy (torch < 1.6) files built by hand around the layout torch's _legacy_save writes; the files
// torch itself wrote are checked in pth-extra.test.ts.

const load = (bytes: Uint8Array) => loadPth(bytesSource('old.pth', bytes));
const errorOf = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a WeightsFormatError'); }, (e: unknown) => {
  if (!(e instanceof WeightsFormatError)) throw e;
  return e;
});

const f4 = Float32Array.of(1, 2, 3, 4);
const rec: TensorRecord = { storageKey: '140000', storageType: 'FloatStorage', storageNumel: 4, size: [4], legacy: {} };
const stored = (data: ArrayBufferView & { BYTES_PER_ELEMENT: number }) => ({ data: bytesOf(data), elementBytes: data.BYTES_PER_ELEMENT });
const oneTensor = (r: Partial<TensorRecord> = {}, opts = {}, storages = { 140000: stored(f4) }) =>
  legacyPth(stateDictPickle({ 'fc.weight': { ...rec, ...r } }), storages, opts);
const evilCall = (module: string, name: string) => new Pickle().proto(2).global(module, name).str('touch /tmp/pwned').tuple(1).op(0x52).stop().bytes();

describe('legacy torch.save reader', () => {
  it('reads a state dict, its views of shared storages and a storage listed after another', async () => {
    const f64 = Float64Array.of(0.5, -1, 2, 8);
    const p = new Pickle().proto(2).global('collections', 'OrderedDict').tuple(0).op(0x52).mark();
    tensorOps(p.str('a'), { ...rec, size: [2, 2] });
    tensorOps(p.str('a_t'), { ...rec, size: [2, 2], stride: [1, 2] });
    tensorOps(p.str('d'), { ...rec, storageKey: '9', storageType: 'DoubleStorage', offset: 1, size: [3] });
    const sd = stateDictFrom(await load(legacyPth(p.op(0x75).stop().bytes(), { 9: stored(f64), 140000: stored(f4) })));
    expect(Array.from(sd.get('a')!.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(Array.from(sd.get('a_t')!.data as Float32Array)).toEqual([1, 3, 2, 4]);
    expect(Array.from(sd.get('d')!.data as Float64Array)).toEqual([-1, 2, 8]);
  });

  it('reads storage views (view metadata of torch < 0.4) as slices of their stored storage', async () => {
    const data = Float32Array.from({ length: 8 }, (_, i) => i * 10);
    const root = { ...rec, storageNumel: 8 };
    const p = new Pickle().proto(2).op(0x7d).mark();
    tensorOps(p.str('in_view'), { ...root, offset: 1, size: [3], legacy: { view: ['v', 2, 4] } }); // elements 3, 4, 5
    tensorOps(p.str('whole_view'), { ...root, size: [2, 2], legacy: { view: ['v', 2, 4] } });
    tensorOps(p.str('root'), { ...root, size: [8] });
    const sd = stateDictFrom(await load(legacyPth(p.op(0x75).stop().bytes(), { 140000: stored(data) })));
    expect(Array.from(sd.get('in_view')!.data as Float32Array)).toEqual([30, 40, 50]);
    expect(Array.from(sd.get('whole_view')!.data as Float32Array)).toEqual([20, 30, 40, 50]);
    expect(Array.from(sd.get('root')!.data as Float32Array)).toEqual(Array.from(data));

    const past = oneTensor({ size: [3], legacy: { view: ['v', 0, 2] } });
    const err = await errorOf(load(past));
    expect(err.code).toBe('out-of-range');
    expect(err.message).toContain("tensor 'fc.weight'");
    expect((await errorOf(load(oneTensor({ legacy: { view: ['v', 3, 2] } })))).code).toBe('out-of-range');
  });

  it('reads element counts written big-endian (older torch on big-endian machines), the data being little-endian as torch always wrote it', async () => {
    const i64 = BigInt64Array.of(-5n, 2n ** 40n);
    const p = new Pickle().proto(2).op(0x7d).mark();
    tensorOps(p.str('f'), rec);
    tensorOps(p.str('i'), { ...rec, storageKey: '7', storageType: 'LongStorage', storageNumel: 2, size: [2] });
    const main = p.op(0x75).stop().bytes();
    for (const littleEndian of [true, false]) {
      const sd = stateDictFrom(await load(legacyPth(main, { 140000: stored(f4), 7: stored(i64) }, { bigEndianCounts: true, littleEndian })));
      expect(Array.from(sd.get('f')!.data as Float32Array)).toEqual([1, 2, 3, 4]);
      expect(Array.from(sd.get('i')!.data as BigInt64Array)).toEqual([-5n, 2n ** 40n]);
    }
  });

  it('reads Python 2 pickles: byte strings (SHORT_BINSTRING, BINSTRING) and torch._utils._rebuild_tensor', async () => {
    const binstring = (s: string) => [0x55, s.length, ...new TextEncoder().encode(s)];
    const p = new Pickle().proto(2).op(0x7d).mark().op(...binstring('w'))
      .global('torch._utils', '_rebuild_tensor').mark()
      .mark().op(...binstring('storage')).global('torch', 'FloatStorage').op(...binstring('140000')).op(...binstring('cpu')).int(4).none().tupleMark().op(0x51)
      .int(0).ints([2, 2]).ints([2, 1]).tupleMark().op(0x52)
      .op(0x54, 4, 0, 0, 0, ...new TextEncoder().encode('long')).int(1)
      .op(0x75).stop().bytes();
    const keysPickle = new Pickle().proto(2).op(0x5d).op(...binstring('140000')).op(0x61).stop().bytes();
    const tree = (await load(legacyPth(p, { 140000: stored(f4) }, { keysPickle }))) as Map<string, unknown>;
    expect(Array.from((tree.get('w') as { data: Float32Array }).data)).toEqual([1, 2, 3, 4]);
    expect(tree.get('long')).toBe(1);
  });

  it('reads pickles longer than its first read, and storages by range, never the whole file', async () => {
    const big = new Float32Array(256 * 1024).fill(1.5); // 1 MiB per storage
    const p = new Pickle().proto(2).op(0x7d).mark();
    for (let i = 0; i < 40; i++) p.str(`note${i}`).str('x'.repeat(5000)); // 200 kB of pickle
    tensorOps(p.str('a'), { ...rec, storageKey: 'a', storageNumel: big.length, size: [big.length] });
    tensorOps(p.str('b'), { ...rec, storageKey: 'b', storageNumel: big.length, size: [512, 512] });
    const bytes = legacyPth(p.op(0x75).stop().bytes(), { a: stored(big), b: stored(big) });
    const src = recording(bytesSource('big.pth', bytes));
    const tree = (await loadPth(src)) as Map<string, unknown>;
    expect((tree.get('note39') as string).length).toBe(5000);
    expect(src.reads.filter(([at, length]) => at === 0 && length > 64 * 1024).length).toBeGreaterThan(0); // the prefix grew
    expect(src.largest()).toBe(big.byteLength);
    expect(bytes.length).toBeGreaterThan(2 * big.byteLength);
    // Pickles past the limit are refused, not read on and on.
    expect(await outcome(openLegacyPth(bytesSource('big.pth', bytes), 100_000))).toBe('too-large');
  });

  for (const [module, name] of [
    ['os', 'system'], ['builtins', 'eval'], ['posix', 'system'], ['subprocess', 'Popen'], ['torch', 'load'], ['__builtin__', 'getattr'],
  ]) {
    it(`refuses a legacy file whose pickles call ${module}.${name}, wherever it is, naming the global`, async () => {
      const state = new Pickle().proto(2).global('collections', 'OrderedDict').tuple(0).op(0x52).mark();
      tensorOps(state.str('ok'), rec);
      state.str('evil').global(module, name).str('id').tuple(1).op(0x52).op(0x75).stop();
      const files = {
        'the main pickle': legacyPth(evilCall(module, name), {}),
        'the main pickle, after a valid tensor': legacyPth(state.bytes(), { 140000: stored(f4) }),
        'sys_info': legacyPth(stateDictPickle({}), {}, { sysInfo: evilCall(module, name) }),
        'the magic number (a plain malicious pickle)': evilCall(module, name),
      };
      for (const [where, bytes] of Object.entries(files)) {
        const err = await errorOf(load(bytes));
        expect(err.code, where).toBe('disallowed-global');
        expect(err.message, where).toContain(`refusing to load global ${module}.${name}`);
      }
    });
  }

  it('refuses a whole pickled nn.Module (its class is a global, never loaded)', async () => {
    const p = new Pickle().proto(2).mark().str('module').global('torch.nn.modules.linear', 'Linear')
      .str('linear.py').str('class Linear: ...').tupleMark().op(0x51)
      .tuple(0).op(0x81).stop();
    const err = await errorOf(load(legacyPth(p.bytes(), {})));
    expect(err.code).toBe('disallowed-global');
    expect(err.message).toContain('torch.nn.modules.linear.Linear');
  });

  const refusals: Array<[string, string, () => Uint8Array, string?]> = [
    ['legacy-pth', 'a pickle that is not torch\'s magic number', () => new Pickle().proto(2).int(7).stop().bytes()],
    ['legacy-pth', 'a protocol version other than 1001', () => oneTensor({}, { version: 1000 })],
    ['legacy-pth', 'a sys_info that is not a dict', () => oneTensor({}, { sysInfo: new Pickle().proto(2).int(1).stop().bytes() })],
    ['legacy-pth', 'a file cut inside its pickles', () => oneTensor().subarray(0, 200)],
    ['bad-pth', 'a storage id of the zip layout (5 fields)', () => legacyPth(stateDictPickle({ w: { ...rec, legacy: undefined } }), { 140000: stored(f4) })],
    ['bad-pth', 'a key list that is not a list of keys', () => oneTensor({}, { keysPickle: new Pickle().proto(2).int(1).stop().bytes() })],
    ['bad-pth', 'a listed storage no tensor uses', () => oneTensor({}, { keys: ['140000', 'nobody'] })],
    ['bad-pth', 'a storage listed twice', () => oneTensor({}, { keys: ['140000', '140000'] })],
    ['bad-pth', 'a used storage that is not listed', () => oneTensor({}, { keys: [] }), 'fc.weight'],
    ['bad-pth', 'an element count that is not the storage\'s numel', () => oneTensor({}, { counts: { 140000: 5n } })],
    ['truncated', 'a file cut inside a storage', () => oneTensor().subarray(0, oneTensor().length - 3)],
    ['truncated', 'a file cut before a storage\'s count', () => oneTensor().subarray(0, oneTensor().length - 20)],
    ['out-of-range', 'a tensor past its storage', () => oneTensor({ size: [5] }), 'fc.weight'],
    ['bad-pickle', 'an unsupported opcode in the main pickle', () => legacyPth(new Pickle().proto(2).op(0x69).stop().bytes(), {})],
  ];
  it.each(refusals)('refuses (%s) %s', async (code, _, make, tensor) => {
    const err = await errorOf(load(make()));
    expect(err.code).toBe(code);
    expect(err.file).toBe('old.pth');
    if (tensor) expect(err.message).toContain(`tensor '${tensor}'`);
  });

  it('says how to recover a damaged legacy file, or one that is not a torch checkpoint', async () => {
    for (const bytes of [oneTensor().subarray(0, 200), new Pickle().proto(2).int(7).stop().bytes()]) {
      expect((await errorOf(load(bytes))).message).toMatch(/re-save it with torch >= 1\.6 \(torch\.save\(state_dict, path\)\), or convert it to safetensors/);
    }
    expect(LEGACY_MAGIC).toBe(0x1950a86a20f9469cfc6cn);
  });

  it('refuses tar checkpoints (the earliest torch format), saying what they are and what to do', async () => {
    const tar = new Uint8Array(1536);
    const enc = new TextEncoder();
    tar.set(enc.encode('sys_info'), 0);
    tar.set(enc.encode('0000644\u0000'), 100);
    tar.set(enc.encode('ustar\u000000'), 257);
    const err = await errorOf(load(tar));
    expect(err.code).toBe('legacy-pth');
    expect(err.message).toMatch(/tar archive.*earliest torch.*re-save it with torch >= 1\.6.*or convert it to safetensors/);
  });

  it('answers damaged legacy files with a WeightsFormatError or their tensors, quickly', async () => {
    const file = new Uint8Array(readFileSync(new URL('../data/pth_extra/legacy_state.pth', import.meta.url)));
    const r = rng(2024);
    const codes = new Map<string, number>();
    for (let k = 0; k < 400; k++) {
      const b = r() < 0.2 ? file.slice(0, Math.floor(r() * file.length)) : file.slice();
      for (let i = 1 + Math.floor(r() * 4); i > 0 && b.length; i--) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      const t0 = performance.now();
      const code = await outcome(load(b));
      expect(performance.now() - t0, `case ${k}`).toBeLessThan(500);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect(codes.size).toBeGreaterThan(3);
  });
});
