import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesSource, SafetensorsFile, writeSafetensors } from '../../src/io/index.js';
import { fixture } from './io-fixtures.js';
import { outcome, rng } from './sources.js';

// Mutants of real checkpoints, each judged by an oracle written here from the format's rules (not from
// the reader): the reader must accept exactly the files the oracle accepts, and give every tensor the
// bytes found at its declared offsets. No silent wrong read: a header length 4 bytes short, say, shifts
// every offset and must be refused.
// CFLENS_FUZZ_CASES / CFLENS_FUZZ_SEED run other campaigns; CFLENS_FUZZ_DUMP=dir writes every mutant
// and the oracle's verdicts (verdicts.json) there, so another implementation can be checked against them.

const N = Number(process.env.CFLENS_FUZZ_CASES ?? 3000);
const SEED = Number(process.env.CFLENS_FUZZ_SEED ?? 0);
const DUMP = process.env.CFLENS_FUZZ_DUMP;

// ---- the oracle ----------------------------------------------------------------------------------

const ELEMENT_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

/** A JSON number token as written; objects as entry lists, so repeated keys stay visible. */
type Num = { num: string };
type Obj = { members: Array<[string, Value]> };
type Value = null | boolean | string | Num | Value[] | Obj;

const TOKEN = /[ \t\n\r]*(?:([{}[\]:,])|("(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)|(true|false|null))/y;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** RFC 8259 JSON, plus serde_json's limits: no lone surrogates, finite numbers, at most 127 open containers. */
function parseJson(text: string): Value {
  let pos = 0;
  const next = (): string[] => {
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(text);
    if (!m) throw new Error(`bad token at ${pos}`);
    pos = TOKEN.lastIndex;
    return m;
  };
  const parse = (m: string[], open: number): Value => {
    const [, punct, str, num, lit] = m;
    if (str !== undefined) {
      const s = JSON.parse(str) as string;
      if (LONE_SURROGATE.test(s)) throw new Error('lone surrogate');
      return s;
    }
    if (num !== undefined) {
      if (!Number.isFinite(Number(num))) throw new Error('number out of range');
      return { num };
    }
    if (lit !== undefined) return lit === 'null' ? null : lit === 'true';
    if (open >= 127) throw new Error('too deep');
    if (punct === '[') {
      const out: Value[] = [];
      let t = next();
      if (t[1] === ']') return out;
      for (;;) {
        out.push(parse(t, open + 1));
        t = next();
        if (t[1] === ']') return out;
        if (t[1] !== ',') throw new Error('array');
        t = next();
      }
    }
    if (punct === '{') {
      const out: Obj = { members: [] };
      let t = next();
      if (t[1] === '}') return out;
      for (;;) {
        if (t[2] === undefined) throw new Error('key');
        const key = parse(t, open + 1) as string;
        if (next()[1] !== ':') throw new Error('colon');
        out.members.push([key, parse(next(), open + 1)]);
        t = next();
        if (t[1] === '}') return out;
        if (t[1] !== ',') throw new Error('object');
        t = next();
      }
    }
    throw new Error(`unexpected ${punct}`);
  };
  const v = parse(next(), 0);
  if (!/^[ \t\n\r]*$/.test(text.slice(pos))) throw new Error('trailing text');
  return v;
}

const isObj = (v: Value): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v) && 'members' in v;
const hasRepeatedKey = (v: Value): boolean => {
  if (Array.isArray(v)) return v.some(hasRepeatedKey);
  if (!isObj(v)) return false;
  const keys = v.members.map(([k]) => k);
  return new Set(keys).size !== keys.length || v.members.some(([, x]) => hasRepeatedKey(x));
};
/** An unsigned integer literal that a JS number holds exactly (this project's one documented limit). */
const count = (v: Value): number | null => (v !== null && typeof v === 'object' && !Array.isArray(v) && 'num' in v && /^[0-9]+$/.test(v.num) && Number.isSafeInteger(Number(v.num)) ? Number(v.num) : null);
const field = (o: Obj, k: string) => o.members.find(([key]) => key === k)?.[1];

interface Verdict {
  ok: boolean;
  why: string;
  tensors?: Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>;
}

function oracle(file: Uint8Array): Verdict {
  const no = (why: string): Verdict => ({ ok: false, why });
  if (file.length < 8) return no('shorter than the length field');
  const n = new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true);
  if (n > 100_000_000n) return no('header over 100,000,000 bytes');
  if (8n + n > BigInt(file.length)) return no('header past the end');
  const dataStart = 8 + Number(n);
  let json: Value;
  try {
    json = parseJson(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(file.subarray(8, dataStart)));
  } catch (e) {
    return no(`not UTF-8 JSON: ${(e as Error).message}`);
  }
  if (!isObj(json)) return no('not an object');
  if (hasRepeatedKey(json)) return no('repeated key');
  const spans: Array<{ name: string; dtype: string; shape: number[]; begin: number; end: number }> = [];
  for (const [name, v] of json.members) {
    if (name === '__metadata__') {
      if (v !== null && !(isObj(v) && v.members.every(([, s]) => typeof s === 'string'))) return no('bad __metadata__');
      continue;
    }
    if (!isObj(v)) return no('entry not an object');
    const dtype = field(v, 'dtype');
    const shape = field(v, 'shape');
    const offsets = field(v, 'data_offsets');
    if (typeof dtype !== 'string' || !Object.hasOwn(ELEMENT_BYTES, dtype)) return no('dtype');
    if (!Array.isArray(shape) || shape.some((d) => count(d) === null)) return no('shape');
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((d) => count(d) === null)) return no('offsets');
    const [begin, end] = offsets.map((d) => count(d)!);
    if (end < begin) return no('end before begin');
    // The reference's checked u64 arithmetic: elements folded left to right, then bits.
    let elements = 1n;
    for (const d of shape) {
      elements *= BigInt(count(d)!);
      if (elements >= 2n ** 64n) return no('element count overflows u64');
    }
    if (elements * BigInt(8 * ELEMENT_BYTES[dtype]) >= 2n ** 64n) return no('bit count overflows u64');
    if (elements * BigInt(ELEMENT_BYTES[dtype]) !== BigInt(end - begin)) return no('size does not match shape');
    spans.push({ name, dtype, shape: shape.map((d) => count(d)!), begin, end });
  }
  const sorted = [...spans].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const s of sorted) {
    if (s.begin !== cursor) return no('offsets do not tile the data');
    cursor = s.end;
  }
  if (dataStart + cursor !== file.length) return no('data section not exactly covered');
  return {
    ok: true,
    why: 'valid',
    tensors: new Map(spans.map((s) => [s.name, { dtype: s.dtype, shape: s.shape, bytes: file.subarray(dataStart + s.begin, dataStart + s.end) }])),
  };
}

// ---- the mutants ---------------------------------------------------------------------------------

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)];

interface Parts { text: string; data: Uint8Array }
const split = (file: Uint8Array): Parts => {
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  return { text: new TextDecoder().decode(file.subarray(8, 8 + n)), data: file.subarray(8 + n) };
};
const join8 = (header: Uint8Array, data: Uint8Array, declared = header.length): Uint8Array => {
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declared), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
};

/** A header entry list (repeats allowed); a value given as { raw } is written verbatim. */
type Entries = Array<[string, unknown]>;
const raw = (text: string) => ({ raw: text });
const write = (v: unknown): string =>
  v !== null && typeof v === 'object' && 'raw' in v ? (v as { raw: string }).raw
    : Array.isArray(v) ? `[${v.map(write).join(',')}]`
      : v !== null && typeof v === 'object' ? `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${write(x)}`).join(',')}}`
        : JSON.stringify(v);
const entriesOf = (text: string): Entries => Object.entries(JSON.parse(text) as Record<string, unknown>);
type Entry = { dtype: string; shape: number[]; data_offsets: [number, number] } & Record<string, unknown>;

/** Rebuilds a file from an entry list: honest length (sometimes padded), or now and then a lying one. */
function rebuild(entries: Entries, data: Uint8Array, r: Rand): Uint8Array {
  let text = `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${write(v)}`).join(',')}}`;
  const pad = pick(r, ['', '', ' '.repeat(int(r, 8)), '\n', ' \t\r\n']);
  text = r() < 0.1 ? pad + text : text + pad;
  const header = new TextEncoder().encode(text);
  const lie = r() < 0.1 ? pick(r, [-8, -4, -1, 1, 4, 8]) : 0;
  return join8(header, data, Math.max(0, header.length + lie));
}

const tensorNames = (e: Entries) => e.filter(([k]) => k !== '__metadata__').map(([k]) => k);
const entryOf = (e: Entries, name: string) => e.find(([k]) => k === name)![1] as Entry;
const replaceEntry = (e: Entries, name: string, v: unknown): Entries => e.map(([k, x]) => [k, k === name ? v : x]);

const STRUCTURAL: Record<string, (p: Parts, r: Rand) => Uint8Array> = {
  'duplicate key': (p, r) => {
    const e = entriesOf(p.text);
    const name = pick(r, tensorNames(e));
    const copy: Entries = [...e];
    copy.splice(int(r, copy.length + 1), 0, [name, pick(r, [entryOf(e, name), entryOf(e, pick(r, tensorNames(e)))])]);
    return rebuild(copy, p.data, r);
  },
  'repeated field': (p, r) => {
    const e = entriesOf(p.text);
    const name = pick(r, tensorNames(e));
    const t = entryOf(e, name);
    const f = pick(r, ['dtype', 'shape', 'data_offsets']) as 'dtype';
    return rebuild(replaceEntry(e, name, raw(
      `{"dtype":${JSON.stringify(t.dtype)},"shape":${write(t.shape)},"data_offsets":${write(t.data_offsets)},${JSON.stringify(f)}:${write(t[f])}}`,
    )), p.data, r);
  },
  'shifted offsets': (p, r) => {
    const e = entriesOf(p.text);
    const name = pick(r, tensorNames(e));
    const t = entryOf(e, name);
    const k = pick(r, [-8, -4, -2, -1, 1, 2, 4, 8]);
    return rebuild(replaceEntry(e, name, { ...t, data_offsets: [t.data_offsets[0] + k, t.data_offsets[1] + k] }), p.data, r);
  },
  'swapped offsets': (p, r) => {
    const e = entriesOf(p.text);
    const names = tensorNames(e);
    const a = pick(r, names);
    const sameSize = names.filter(
      (b) => entryOf(e, b).data_offsets[1] - entryOf(e, b).data_offsets[0] === entryOf(e, a).data_offsets[1] - entryOf(e, a).data_offsets[0],
    );
    const b = pick(r, sameSize);
    return rebuild(e.map(([k, v]) => [
      k,
      k === a
        ? { ...entryOf(e, a), data_offsets: entryOf(e, b).data_offsets }
        : k === b ? { ...entryOf(e, b), data_offsets: entryOf(e, a).data_offsets } : v,
    ]), p.data, r);
  },
  'number spelling': (p, r) => {
    const e = entriesOf(p.text);
    const name = pick(r, tensorNames(e));
    const t = entryOf(e, name);
    const spell = (x: number) => raw(pick(r, [`${x}.0`, `${x}e0`, `${x}E+0`, `0${x}`, `-${x}`, `${x}`, `${x}.5`]));
    const shape = t.shape.length && r() < 0.5 ? t.shape.map((d, i) => (i === 0 ? spell(d) : d)) : t.shape;
    const offsets = shape === t.shape ? [spell(t.data_offsets[0]), t.data_offsets[1]] : t.data_offsets;
    return rebuild(replaceEntry(e, name, { ...t, shape, data_offsets: offsets }), p.data, r);
  },
  'dtype': (p, r) => {
    const e = entriesOf(p.text);
    const name = pick(r, tensorNames(e));
    const dtype = pick(r, [...Object.keys(ELEMENT_BYTES), 'F8', 'f32', 'toString', '__proto__', 'C64', '']);
    return rebuild(replaceEntry(e, name, { ...entryOf(e, name), dtype }), p.data, r);
  },
  'shape': (p, r) => {
    const e = entriesOf(p.text);
    const name = pick(r, tensorNames(e));
    const t = entryOf(e, name);
    const total = t.shape.reduce((a, b) => a * b, 1);
    const shape = pick(r, [[total], [1, total], [total, 1], [...t.shape, 1], [...t.shape, 2], [], [0], t.shape.slice(1), [total + 1], [-total]]);
    return rebuild(replaceEntry(e, name, { ...t, shape }), p.data, r);
  },
  'metadata': (p, r) => {
    const e = entriesOf(p.text).filter(([k]) => k !== '__metadata__');
    const meta = pick(r, [null, {}, { a: 'b' }, { a: 1 }, ['x'], 'x', raw('{"a":"b","a":"c"}'), raw('{"a":"\\ud800"}'), raw('{"a":"\\ud83d\\ude00"}')]);
    e.splice(int(r, e.length + 1), 0, ['__metadata__', meta]);
    return rebuild(e, p.data, r);
  },
  'dropped tensor': (p, r) => {
    const e = entriesOf(p.text);
    const name = pick(r, tensorNames(e));
    return rebuild(e.filter(([k]) => k !== name), p.data, r);
  },
  'zero-size tensor': (p, r) => {
    const e = entriesOf(p.text);
    const ends = tensorNames(e).flatMap((k) => entryOf(e, k).data_offsets);
    const at = r() < 0.7 ? pick(r, ends) : int(r, p.data.length + 2);
    e.splice(int(r, e.length + 1), 0, ['zero', { dtype: pick(r, ['F32', 'I64', 'U8']), shape: pick(r, [[0], [3, 0], [0, 5]]), data_offsets: [at, at] }]);
    return rebuild(e, p.data, r);
  },
  'unknown field': (p, r) => {
    const e = entriesOf(p.text);
    const name = pick(r, tensorNames(e));
    const extra = pick(r, [
      raw('1'), raw('1e999'), raw('"\\ud800"'), raw('[[[]]]'), raw(`${'['.repeat(126)}${']'.repeat(126)}`), raw(`${'['.repeat(124)}${']'.repeat(124)}`),
      raw('{"x":1,"x":2}'), 'text',
    ]);
    return rebuild(replaceEntry(e, name, { ...entryOf(e, name), extra }), p.data, r);
  },
  'reserialised': (p, r) => rebuild(entriesOf(p.text), p.data, r),
  'data resized': (p, r) => {
    const k = 1 + int(r, 8);
    const at = int(r, p.data.length + 1);
    const data = r() < 0.5
      ? Uint8Array.from([...p.data.subarray(0, at), ...p.data.subarray(Math.min(p.data.length, at + k))])
      : Uint8Array.from([...p.data.subarray(0, at), ...new Uint8Array(k).fill(0x55), ...p.data.subarray(at)]);
    return rebuild(entriesOf(p.text), data, r);
  },
};

const JSON_CHARS = [...'{}[],:"0123456789.-e \\u'].map((c) => c.charCodeAt(0));

const BYTE_LEVEL: Record<string, (f: Uint8Array, r: Rand) => Uint8Array> = {
  'header length ± delta': (f, r) => {
    const b = f.slice();
    const n = new DataView(b.buffer).getBigUint64(0, true);
    const delta = BigInt(pick(r, [-16, -8, -4, -3, -2, -1, 1, 2, 3, 4, 8, 16]));
    new DataView(b.buffer).setBigUint64(0, n + delta < 0n ? 0n : n + delta, true);
    return b;
  },
  'header length bit flip': (f, r) => {
    const b = f.slice();
    b[int(r, 8)] ^= 1 << int(r, 8);
    return b;
  },
  'JSON byte': (f, r) => {
    const b = f.slice();
    const n = Number(new DataView(b.buffer).getBigUint64(0, true));
    for (let i = 1 + int(r, 3); i > 0; i--) {
      const at = 8 + int(r, n);
      b[at] = r() < 0.5 ? pick(r, JSON_CHARS) : r() < 0.5 ? b[at] ^ (1 << int(r, 8)) : int(r, 256);
    }
    return b;
  },
  'data bytes': (f, r) => {
    const b = f.slice();
    const n = Number(new DataView(b.buffer).getBigUint64(0, true));
    if (b.length > 8 + n) for (let i = 1 + int(r, 8); i > 0; i--) b[8 + n + int(r, b.length - 8 - n)] = int(r, 256);
    return b;
  },
  'truncated': (f, r) => f.slice(0, r() < 0.5 ? f.length - 1 - int(r, 16) : int(r, f.length)),
  'appended': (f, r) => Uint8Array.from([...f, ...Array.from({ length: 1 + int(r, 16) }, () => pick(r, [0, 0x20, int(r, 256)]))]),
};

// ---- the campaign --------------------------------------------------------------------------------

const SEEDS = ['ops/softmax.safetensors', 'ops/embed.safetensors', 'pth_cases/expected.safetensors'];

/** Every dtype, a 0-dim and an empty tensor, and metadata, in the new writer's layout. */
const mixed = writeSafetensors({
  w: { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
  d: { dtype: 'F64', shape: [2], data: Float64Array.of(0.5, -2) },
  h: { dtype: 'F16', shape: [3], data: Uint16Array.of(0x3c00, 0xc000, 0x7bff) },
  b: { dtype: 'BF16', shape: [1], data: Uint16Array.of(0x3f80) },
  e4: { dtype: 'F8_E4M3', shape: [3], data: Uint8Array.of(0x38, 0x7e, 0x7f) },
  e5: { dtype: 'F8_E5M2', shape: [2], data: Uint8Array.of(0x3c, 0x7c) },
  l: { dtype: 'I64', shape: [1], data: BigInt64Array.of(-5n) },
  ul: { dtype: 'U64', shape: [2], data: BigUint64Array.of(7n, 2n ** 63n) },
  i: { dtype: 'I32', shape: [1], data: Int32Array.of(-9) },
  u: { dtype: 'U32', shape: [1], data: Uint32Array.of(4e9) },
  s: { dtype: 'I16', shape: [1], data: Int16Array.of(-3) },
  us: { dtype: 'U16', shape: [1], data: Uint16Array.of(65535) },
  c: { dtype: 'I8', shape: [2], data: Int8Array.of(-1, 1) },
  m: { dtype: 'BOOL', shape: [3], data: Uint8Array.of(1, 0, 1) },
  x: { dtype: 'U8', shape: [], data: Uint8Array.of(200) },
  z: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
}, { format: 'pt', note: 'mixed' });

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

describe('safetensors reader against an oracle of the format', { timeout: 60_000 }, () => {
  const seeds = [...SEEDS.map((s) => new Uint8Array(readFileSync(fixture(s)))), mixed];

  it('accepts every seed as is', () => {
    for (const s of seeds) expect(oracle(s).ok).toBe(true);
  });

  it(`${N} mutants: accepted exactly when the oracle accepts, with the bytes at the declared offsets`, async () => {
    const r = rng(SEED + 2024);
    const kinds = [...Object.keys(STRUCTURAL), ...Object.keys(BYTE_LEVEL)];
    const tally = new Map<string, { accepted: number; refused: number }>();
    const codes = new Map<string, number>();
    const verdicts: Array<{ kind: string; ok: boolean; why: string }> = [];
    if (DUMP) mkdirSync(DUMP, { recursive: true });
    const t0 = performance.now();
    for (let k = 0; k < N; k++) {
      const seed = pick(r, seeds);
      const kind = pick(r, kinds);
      const bytes = kind in STRUCTURAL ? STRUCTURAL[kind](split(seed), r) : BYTE_LEVEL[kind](seed, r);
      const want = oracle(bytes);
      const got = new Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>();
      const code = await outcome((async () => {
        const st = await SafetensorsFile.open(bytesSource(`mutant-${k}.safetensors`, bytes));
        for (const name of st.names()) {
          const t = await st.read(name);
          got.set(name, { dtype: t.dtype, shape: t.shape, bytes: bytesOf(t.data) });
        }
      })());
      const label = `case ${k} (${kind}): oracle says ${want.why}, reader says ${code}`;
      expect(code === 'ok', label).toBe(want.ok);
      if (want.ok) {
        expect([...got.keys()].sort(), label).toEqual([...want.tensors!.keys()].sort());
        for (const [name, t] of want.tensors!) {
          const g = got.get(name)!;
          expect([g.dtype, g.shape], `${label}: tensor ${name}`).toEqual([t.dtype, t.shape]);
          expect(same(g.bytes, t.bytes), `${label}: bytes of tensor ${name}`).toBe(true);
        }
      }
      const c = tally.get(kind) ?? { accepted: 0, refused: 0 };
      c[want.ok ? 'accepted' : 'refused']++;
      tally.set(kind, c);
      codes.set(code, (codes.get(code) ?? 0) + 1);
      if (DUMP) {
        writeFileSync(join(DUMP, `${k}.safetensors`), bytes);
        verdicts.push({ kind, ok: want.ok, why: want.why });
      }
    }
    if (DUMP) writeFileSync(join(DUMP, 'verdicts.json'), JSON.stringify(verdicts));
    const accepted = [...tally.values()].reduce((a, c) => a + c.accepted, 0);
    console.log(`safetensors fuzz: ${N} mutants, ${accepted} accepted, ${N - accepted} refused, ${(performance.now() - t0).toFixed(0)} ms`);
    console.log([...tally].map(([kind, c]) => `  ${kind}: ${c.accepted} accepted, ${c.refused} refused`).join('\n'));
    console.log(`  reader outcomes: ${[...codes].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ')}`);
    if (N >= 3000) {
      // Both verdicts must be common, and every kind of mutant must have been tried.
      expect(accepted).toBeGreaterThan(N / 10);
      expect(N - accepted).toBeGreaterThan(N / 3);
      expect(tally.size).toBe(kinds.length);
    }
  });
});
