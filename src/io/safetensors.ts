import { bfloat16BitsToFloat32, halfBitsToFloat32 } from './dtype.js';
import { WeightsFormatError } from './errors.js';
import type { ByteSource } from './byte-source.js';

export type { ByteSource } from './byte-source.js';
export { bytesSource, blobSource } from './byte-source.js';

export const DTYPE_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const MAX_HEADER = 100 * 1024 * 1024;

export type TensorArray = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** A tensor read from a weights file, in its stored dtype (F16/BF16 as raw Uint16 bits). */
export interface TensorData {
  name: string;
  dtype: string;
  shape: number[];
  data: TensorArray;
}

export interface TensorInfo {
  dtype: string;
  shape: number[];
  /** Byte range inside the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Offset of the data section in the file. */
  dataOffset: number;
}

/** Validates a header completely: lengths, JSON, dtypes, shapes against byte ranges, overlaps. */
export function parseSafetensorsHeader(bytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  if (fileSize < 8 || bytes.byteLength < 8) throw new WeightsFormatError(file, 'truncated', `only ${fileSize} bytes: a safetensors file starts with an 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n < 2 || n > MAX_HEADER || n > fileSize - 8) {
    throw new WeightsFormatError(file, 'header-too-large', `header length ${n} is impossible for a ${fileSize}-byte file (2 ≤ length ≤ min(100 MB, size − 8)); the file is truncated or not safetensors`);
  }
  if (bytes.byteLength < 8 + n) throw new WeightsFormatError(file, 'truncated', `the header needs ${8 + n} bytes, got ${bytes.byteLength}`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new WeightsFormatError(file, 'bad-json', `the header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new WeightsFormatError(file, 'bad-json', 'the header must be a JSON object');
  const dataOffset = 8 + n;
  const dataSize = fileSize - dataOffset;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || Object.values(raw).some((v) => typeof v !== 'string')) {
        throw new WeightsFormatError(file, 'bad-metadata', '__metadata__ must map strings to strings');
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== 'object') throw new WeightsFormatError(file, 'bad-entry', 'the entry is not an object', name);
    if (typeof e.dtype !== 'string' || !(e.dtype in DTYPE_BYTES)) {
      throw new WeightsFormatError(file, 'bad-dtype', `dtype ${JSON.stringify(e.dtype)} is not one of ${Object.keys(DTYPE_BYTES).join(', ')}`, name);
    }
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new WeightsFormatError(file, 'bad-shape', `shape ${JSON.stringify(e.shape)} must be a list of non-negative integers`, name);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || off.some((d) => !Number.isSafeInteger(d) || d < 0) || off[1] < off[0]) {
      throw new WeightsFormatError(file, 'bad-offsets', `data_offsets ${JSON.stringify(off)} must be [begin, end] with 0 ≤ begin ≤ end`, name);
    }
    const numel = (e.shape as number[]).reduce((a, b) => a * b, 1);
    const bytesNeeded = numel * DTYPE_BYTES[e.dtype];
    if (off[1] - off[0] !== bytesNeeded) {
      throw new WeightsFormatError(file, 'shape-mismatch', `shape ${JSON.stringify(e.shape)} of ${e.dtype} needs ${bytesNeeded} bytes but data_offsets span ${off[1] - off[0]}`, name);
    }
    if (off[1] > dataSize) throw new WeightsFormatError(file, 'out-of-range', `data_offsets end at ${off[1]}, past the ${dataSize}-byte data section (truncated file?)`, name);
    tensors.set(name, { dtype: e.dtype, shape: e.shape as number[], begin: off[0], end: off[1] });
  }
  const spans = [...tensors.entries()].filter(([, t]) => t.end > t.begin).sort((a, b) => a[1].begin - b[1].begin);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][1].begin < spans[i - 1][1].end) {
      throw new WeightsFormatError(file, 'overlap', `its bytes overlap those of '${spans[i - 1][0]}'`, spans[i][0]);
    }
  }
  return { tensors, metadata, dataOffset };
}

function typedView(dtype: string, bytes: Uint8Array): TensorArray {
  // Copy to an aligned buffer: data offsets need not be aligned to the element size.
  const buf = bytes.slice().buffer;
  switch (dtype) {
    case 'F64': return new Float64Array(buf);
    case 'F32': return new Float32Array(buf);
    case 'F16':
    case 'BF16': return new Uint16Array(buf);
    case 'I64': return new BigInt64Array(buf);
    case 'I32': return new Int32Array(buf);
    case 'I16': return new Int16Array(buf);
    case 'I8': return new Int8Array(buf);
    default: return new Uint8Array(buf);
  }
}

/** Any stored dtype as f32 values. */
export function toFloat32(t: TensorData): Float32Array {
  switch (t.dtype) {
    case 'F32': return t.data as Float32Array;
    case 'F16': return halfBitsToFloat32(t.data as Uint16Array);
    case 'BF16': return bfloat16BitsToFloat32(t.data as Uint16Array);
    case 'I64': return Float32Array.from(t.data as BigInt64Array, (v) => Number(v));
    default: return Float32Array.from(t.data as ArrayLike<number>);
  }
}

/** A .safetensors file opened lazily: the header now, each tensor's bytes when asked. */
export class SafetensorsFile {
  private constructor(readonly source: ByteSource, readonly header: SafetensorsHeader) {}

  static async open(source: ByteSource): Promise<SafetensorsFile> {
    const name = source.name;
    if (source.size < 8) throw new WeightsFormatError(name, 'truncated', `only ${source.size} bytes: a safetensors file starts with an 8-byte header length`);
    const head = await source.read(0, 8);
    const n = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
    if (n < 2 || n > MAX_HEADER || n > source.size - 8) parseSafetensorsHeader(head, source.size, name);
    const bytes = await source.read(0, 8 + n);
    return new SafetensorsFile(source, parseSafetensorsHeader(bytes, source.size, name));
  }

  get metadata(): Record<string, string> { return this.header.metadata; }
  names(): string[] { return [...this.header.tensors.keys()]; }

  info(name: string): TensorInfo {
    const t = this.header.tensors.get(name);
    if (!t) throw new WeightsFormatError(this.source.name, 'missing-tensor', 'no such tensor in the file', name);
    return t;
  }

  async read(name: string): Promise<TensorData> {
    const t = this.info(name);
    const bytes = await this.source.read(this.header.dataOffset + t.begin, t.end - t.begin);
    return { name, dtype: t.dtype, shape: [...t.shape], data: typedView(t.dtype, bytes) };
  }
}

export interface TensorToWrite { dtype: string; shape: readonly number[]; data: ArrayBufferView }

/** Serialises tensors (sorted by name, header padded to 8 bytes) as the reference writer does. */
export function writeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const n of names) {
    const t = tensors[n];
    const bytes = t.data.byteLength;
    const expected = t.shape.reduce((a, b) => a * b, 1) * (DTYPE_BYTES[t.dtype] ?? NaN);
    if (bytes !== expected) throw new Error(`cflens: writeSafetensors: '${n}' has ${bytes} bytes but ${t.dtype} ${JSON.stringify(t.shape)} needs ${expected}`);
    header[n] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.byteLength % 8)) % 8;
  if (pad) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const n of names) {
    const d = tensors[n].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}
