import { MAX_HEADER_BYTES } from './safetensors-header.js';
import { DTYPE_BYTES, isDType, type DType } from './tensor-data.js';

export interface TensorToWrite {
  dtype: DType;
  shape: readonly number[];
  /** Little-endian element bytes (F16/BF16 as Uint16 bits, F8 as Uint8 bits, I64/U64 as BigInt64Array/BigUint64Array). */
  data: ArrayBufferView;
}

/**
 * The reference writer's order: its Dtype enum, last first (so larger elements come first and every
 * tensor starts at a multiple of its element size), then the name.
 */
const DTYPE_RANK: Readonly<Record<DType, number>> = {
  BOOL: 0, U8: 1, I8: 2, F8_E5M2: 3, F8_E4M3: 4, I16: 5, U16: 6, F16: 7, BF16: 8, I32: 9, U32: 10, F32: 11, F64: 12, I64: 13, U64: 14,
};

/** Rust's String order: by UTF-8 bytes, i.e. by code point (JS's < compares UTF-16 code units). */
function compareCodePoints(a: string, b: string): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (part of a code point above U+FFFF) sorts below U+E000-U+FFFF as a code unit, above as a code point.
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy && (sx ? y : x) >= 0xe000) return sx ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A JSON string as serde_json writes it (JSON.stringify escapes the same characters, the same way). */
function jsonString(s: string, what: string): string {
  if (LONE_SURROGATE.test(s)) {
    throw new Error(`cflens: writeSafetensors: ${what} contains a lone UTF-16 surrogate, which UTF-8 (and so the format) cannot hold`);
  }
  return JSON.stringify(s);
}

/** What the header needs of a tensor: its dtype and shape (the bytes may come later). */
export interface TensorSpec { dtype: DType; shape: readonly number[] }

/** The file's first bytes (length field, padded JSON header) and the order the tensors' bytes follow in. */
export interface SafetensorsLayout { head: Uint8Array<ArrayBuffer>; order: string[]; dataBytes: number }

/**
 * Lays a file out as the reference writer (the safetensors crate) does: tensors by descending dtype
 * alignment then name, their bytes back to back in that order, and the JSON header (__metadata__ first)
 * padded with spaces so that the data section starts at a multiple of 8.
 */
export function safetensorsLayout(specs: Record<string, TensorSpec>, metadata?: Record<string, string>): SafetensorsLayout {
  const entries: string[] = [];
  if (metadata) {
    const fields = Object.entries(metadata).map(([k, v]) => {
      if (typeof v !== 'string') throw new Error(`cflens: writeSafetensors: metadata '${k}' must be a string`);
      return `${jsonString(k, `metadata key '${k}'`)}:${jsonString(v, `metadata '${k}'`)}`;
    });
    entries.push(`"__metadata__":{${fields.join(',')}}`);
  }
  for (const [n, t] of Object.entries(specs)) {
    if (n === '__metadata__') throw new Error("cflens: writeSafetensors: '__metadata__' is reserved and cannot name a tensor");
    if (!isDType(t.dtype)) {
      throw new Error(`cflens: writeSafetensors: '${n}' has unknown dtype ${String(t.dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    if (t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new Error(`cflens: writeSafetensors: '${n}' has invalid shape [${t.shape.join(', ')}]`);
  }
  const order = Object.keys(specs).sort((a, b) => DTYPE_RANK[specs[b].dtype] - DTYPE_RANK[specs[a].dtype] || compareCodePoints(a, b));
  let offset = 0;
  for (const n of order) {
    const t = specs[n];
    const end = offset + byteSize(t);
    entries.push(`${jsonString(n, `tensor name '${n}'`)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const unpadded = new TextEncoder().encode(`{${entries.join(',')}}`);
  const headerLength = Math.ceil(unpadded.byteLength / 8) * 8;
  if (headerLength > MAX_HEADER_BYTES) {
    throw new Error(
      `cflens: writeSafetensors: the header would be ${headerLength} bytes, over the format's limit of 100,000,000 (readers refuse such files): ` +
      'write fewer tensors per file or less metadata',
    );
  }
  const head = new Uint8Array(8 + headerLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLength), true);
  head.set(unpadded, 8);
  head.fill(0x20, 8 + unpadded.byteLength);
  return { head, order, dataBytes: offset };
}

const byteSize = (t: TensorSpec) => t.shape.reduce((a, b) => a * b, DTYPE_BYTES[t.dtype]);

function checkBytes(n: string, t: TensorSpec, data: ArrayBufferView): void {
  const expected = byteSize(t);
  if (data.byteLength !== expected) {
    throw new Error(`cflens: writeSafetensors: '${n}' has ${data.byteLength} bytes but ${t.dtype} [${t.shape.join(', ')}] needs ${expected}`);
  }
}

const bytesOf = (d: ArrayBufferView) => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** Serialises tensors byte for byte as the reference writer does (see safetensorsLayout). */
export function writeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array<ArrayBuffer> {
  for (const [n, t] of Object.entries(tensors)) if (isDType(t.dtype)) checkBytes(n, t, t.data);
  const { head, order, dataBytes } = safetensorsLayout(tensors, metadata);
  const out = new Uint8Array(head.byteLength + dataBytes);
  out.set(head);
  let at = head.byteLength;
  for (const n of order) {
    out.set(bytesOf(tensors[n].data), at);
    at += tensors[n].data.byteLength;
  }
  return out;
}

/**
 * The same file as chunks, producing each tensor's bytes only when it is its turn (`bytes(name)`), so a
 * checkpoint of any size is written with one tensor in memory at a time.
 */
export async function* safetensorsChunks(
  specs: Record<string, TensorSpec>, bytes: (name: string) => Promise<ArrayBufferView>, metadata?: Record<string, string>,
): AsyncGenerator<Uint8Array> {
  const { head, order } = safetensorsLayout(specs, metadata);
  yield head;
  for (const n of order) {
    const data = await bytes(n);
    checkBytes(n, specs[n], data);
    yield bytesOf(data);
  }
}
