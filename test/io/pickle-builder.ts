// Assembles pickles opcode by opcode, and torch.save archives from them, for tests of the reader.
import { buildZip, type ZipFile } from './zip-builder.js';

const enc = new TextEncoder();
const le = (n: number, bytes: number): number[] => Array.from({ length: bytes }, (_, i) => Math.floor(n / 2 ** (8 * i)) % 256);

export class Pickle {
  readonly out: number[] = [];
  op(...bytes: number[]): this { this.out.push(...bytes); return this; }
  proto(v = 2) { return this.op(0x80, v); }
  mark() { return this.op(0x28); }
  stop() { return this.op(0x2e); }
  global(module: string, name: string) { return this.op(0x63, ...enc.encode(`${module}\n${name}\n`)); }
  stackGlobal(module: string, name: string) { return this.str(module).str(name).op(0x93); }
  str(s: string) { const b = enc.encode(s); return this.op(0x58, ...le(b.length, 4), ...b); }
  shortStr(s: string) { const b = enc.encode(s); return this.op(0x8c, b.length, ...b); }
  int(n: number) {
    if (n >= 0 && n < 256) return this.op(0x4b, n);
    if (n >= 0 && n < 65536) return this.op(0x4d, ...le(n, 2));
    if (n >= -(2 ** 31) && n < 2 ** 31) return this.op(0x4a, ...le(n >>> 0, 4));
    return this.long(BigInt(n));
  }
  long(v: bigint) {
    const bytes: number[] = [];
    let x = v;
    while (bytes.length === 0 || !(x === 0n && !(bytes[bytes.length - 1] & 0x80)) && !(x === -1n && bytes[bytes.length - 1] & 0x80)) {
      bytes.push(Number(BigInt.asUintN(8, x)));
      x >>= 8n;
    }
    return this.op(0x8a, bytes.length, ...bytes);
  }
  float(v: number) { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v, false); return this.op(0x47, ...b); }
  none() { return this.op(0x4e); }
  bool(v: boolean) { return this.op(v ? 0x88 : 0x89); }
  tuple(n: 0 | 1 | 2 | 3) { return this.op([0x29, 0x85, 0x86, 0x87][n]); }
  tupleMark() { return this.op(0x74); }
  put(i: number) { return i < 256 ? this.op(0x71, i) : this.op(0x72, ...le(i, 4)); }
  get(i: number) { return i < 256 ? this.op(0x68, i) : this.op(0x6a, ...le(i, 4)); }
  ints(xs: readonly number[]) {
    if (xs.length <= 3) { xs.forEach((x) => this.int(x)); return this.tuple(xs.length as 0 | 1 | 2 | 3); }
    this.mark(); xs.forEach((x) => this.int(x)); return this.tupleMark();
  }
  bytes(): Uint8Array { return Uint8Array.from(this.out); }
}

export interface TensorRecord {
  storageKey: string;
  storageType: string; // 'FloatStorage', ...
  storageNumel: number;
  offset?: number;
  size: number[];
  stride?: number[];
  /** Wrap in torch._utils._rebuild_parameter, or in torch._tensor._rebuild_from_type_v2. */
  wrap?: 'parameter' | 'from-type';
  /** A legacy file's storage id: its sixth field, None or a storage view (view key, offset, numel). */
  legacy?: { view?: [string, number, number] };
}

const contiguousStride = (size: number[]) => size.map((_, d) => size.slice(d + 1).reduce((a, b) => a * b, 1));

/** The pickle ops torch.save writes for one tensor. */
export function tensorOps(p: Pickle, t: TensorRecord): Pickle {
  if (t.wrap === 'parameter') p.global('torch._utils', '_rebuild_parameter').mark();
  if (t.wrap === 'from-type') {
    p.global('torch._tensor', '_rebuild_from_type_v2').mark()
      .global('torch._utils', '_rebuild_tensor_v2').global('torch.nn.parameter', 'Parameter').mark();
  } else p.global('torch._utils', '_rebuild_tensor_v2').mark();
  p.mark().str('storage').global('torch', t.storageType).str(t.storageKey).str('cpu').int(t.storageNumel);
  if (t.legacy) {
    const v = t.legacy.view;
    if (v) p.str(v[0]).int(v[1]).int(v[2]).tuple(3);
    else p.none();
  }
  p.tupleMark().op(0x51);
  p.int(t.offset ?? 0).ints(t.size).ints(t.stride ?? contiguousStride(t.size)).bool(false).global('collections', 'OrderedDict').tuple(0).op(0x52);
  p.tupleMark();
  if (t.wrap === 'from-type') p.op(0x7d).tupleMark().op(0x52); // (func, type, args, state={})
  else p.op(0x52);
  if (t.wrap === 'parameter') p.bool(true).global('collections', 'OrderedDict').tuple(0).op(0x52).tupleMark().op(0x52);
  return p;
}

/** An OrderedDict state dict pickle: name → tensor record. */
export function stateDictPickle(tensors: Record<string, TensorRecord>): Uint8Array {
  const p = new Pickle().proto(2).global('collections', 'OrderedDict').tuple(0).op(0x52).mark();
  for (const [name, t] of Object.entries(tensors)) tensorOps(p.str(name), t);
  return p.op(0x75).stop().bytes();
}

/** A torch.save archive: <archive>/data.pkl, data/<key> storages, version and byteorder records. */
export function torchArchive(
  pickle: Uint8Array, storages: Record<string, Uint8Array>, opts: { archive?: string; byteorder?: string; zip64?: boolean; extra?: ZipFile[] } = {},
): Uint8Array {
  const a = opts.archive ?? 'archive';
  const files: ZipFile[] = [
    { name: `${a}/data.pkl`, data: pickle },
    { name: `${a}/byteorder`, data: enc.encode(opts.byteorder ?? 'little') },
    ...Object.entries(storages).map(([k, data]) => ({ name: `${a}/data/${k}`, data })),
    { name: `${a}/version`, data: enc.encode('3\n') },
    ...(opts.extra ?? []),
  ];
  return buildZip(files, { align: 64, zip64: opts.zip64 });
}

export const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

export interface LegacyOptions {
  /** Replaces the magic number pickle. */
  magic?: Uint8Array;
  /** Protocol version (torch writes 1001). */
  version?: number;
  /** sys_info's little_endian (true unless given). */
  littleEndian?: boolean;
  /** Replaces the sys_info pickle. */
  sysInfo?: Uint8Array;
  /** Storage keys in the order they are listed and stored (default: those of `storages`). */
  keys?: string[];
  /** Replaces the pickle listing the keys (the storages are still written in `keys` order). */
  keysPickle?: Uint8Array;
  /** Write each element count big-endian, as older torch did on big-endian machines. */
  bigEndianCounts?: boolean;
  /** Element counts to write instead of the true ones, by key. */
  counts?: Record<string, bigint>;
}

/**
 * A legacy (torch < 1.6) torch.save file: magic number, protocol version, sys_info and the main pickle,
 * the list of storage keys, then each storage as an 8-byte element count and its bytes.
 */
export function legacyPth(main: Uint8Array, storages: Record<string, { data: Uint8Array; elementBytes: number }>, opts: LegacyOptions = {}): Uint8Array {
  const keys = opts.keys ?? Object.keys(storages);
  const magic = opts.magic ?? new Pickle().proto(2).long(LEGACY_MAGIC).stop().bytes();
  const version = new Pickle().proto(2).int(opts.version ?? 1001).stop().bytes();
  const sysInfo = opts.sysInfo ?? new Pickle().proto(2).op(0x7d).mark()
    .str('protocol_version').int(1001).str('little_endian').bool(opts.littleEndian ?? true)
    .str('type_sizes').op(0x7d).mark().str('short').int(2).str('int').int(4).str('long').int(4).op(0x75)
    .op(0x75).stop().bytes();
  const list = new Pickle().proto(2).op(0x5d).mark();
  for (const k of keys) list.str(k);
  const parts = [magic, version, sysInfo, main, opts.keysPickle ?? list.op(0x65).stop().bytes()];
  for (const k of keys) {
    const { data, elementBytes } = storages[k] ?? { data: new Uint8Array(0), elementBytes: 1 };
    const count = new Uint8Array(8);
    new DataView(count.buffer).setBigUint64(0, opts.counts?.[k] ?? BigInt(data.length / elementBytes), !opts.bigEndianCounts);
    parts.push(count, data);
  }
  const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of parts) { out.set(b, at); at += b.length; }
  return out;
}
