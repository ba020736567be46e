import { WeightsFormatError } from './errors.js';
import { DTYPE_BYTES, isDType, type DType } from './tensor-data.js';

export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorInfo {
  dtype: DType;
  shape: number[];
  byteLength: number;
  /** Byte range inside the data section (which starts at SafetensorsHeader.dataOffset). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Offset of the data section in the file: 8 + header length. */
  dataOffset: number;
}

const NOT_SAFETENSORS = 'the file is truncated or not a safetensors file';

/** The u64 little-endian header length at the start of the file, checked against the file size. */
export function readHeaderLength(bytes: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || bytes.byteLength < 8) throw new WeightsFormatError(file, 'truncated', `only ${Math.min(fileSize, bytes.byteLength)} bytes: a safetensors file starts with an 8-byte header length; ${NOT_SAFETENSORS}`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n < 2n) throw new WeightsFormatError(file, 'header-too-small', `header length ${n} is below 2 (the shortest JSON object, "{}"); ${NOT_SAFETENSORS}`);
  if (n > BigInt(MAX_HEADER_BYTES)) throw new WeightsFormatError(file, 'header-too-large', `header length ${n} exceeds the 100 MB limit; ${NOT_SAFETENSORS}`);
  if (n > BigInt(fileSize - 8)) throw new WeightsFormatError(file, 'header-too-large', `header length ${n} is more than the ${fileSize - 8} bytes after the length field; ${NOT_SAFETENSORS}`);
  return Number(n);
}

const describeJson = (v: unknown) => JSON.stringify(v)?.slice(0, 80) ?? String(v);

/**
 * Validates a header completely: length, UTF-8 JSON object, __metadata__, and for every tensor its
 * dtype, shape, and data_offsets against the shape, the data section and every other tensor.
 * `bytes` holds at least the first 8 + header-length bytes of the file.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const n = readHeaderLength(bytes, fileSize, file);
  if (bytes.byteLength < 8 + n) throw new WeightsFormatError(file, 'truncated', `the header needs ${8 + n} bytes but only ${bytes.byteLength} were given`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new WeightsFormatError(file, 'bad-json', `the header is not UTF-8 JSON (${(e as Error).message}); ${NOT_SAFETENSORS}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new WeightsFormatError(file, 'bad-json', `the header must be a JSON object, not ${describeJson(json)}`);

  const dataOffset = 8 + n;
  const dataSize = fileSize - dataOffset;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || Object.values(raw).some((v) => typeof v !== 'string')) {
        throw new WeightsFormatError(file, 'bad-metadata', `__metadata__ must map strings to strings, got ${describeJson(raw)}`);
      }
      metadata = { ...(raw as Record<string, string>) };
      continue;
    }
    tensors.set(name, parseEntry(raw, name, file, dataSize));
  }
  checkOverlaps(tensors, file);
  return { tensors, metadata, dataOffset };
}

function parseEntry(raw: unknown, name: string, file: string, dataSize: number): TensorInfo {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new WeightsFormatError(file, 'bad-entry', `the entry must be an object {dtype, shape, data_offsets}, got ${describeJson(raw)}`, name);
  const { dtype, shape, data_offsets: off } = raw as Record<string, unknown>;
  if (!isDType(dtype)) throw new WeightsFormatError(file, 'bad-dtype', `dtype ${describeJson(dtype)} is not one of ${Object.keys(DTYPE_BYTES).join(', ')}`, name);
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new WeightsFormatError(file, 'bad-shape', `shape ${describeJson(shape)} must be a list of non-negative integers`, name);
  }
  if (!Array.isArray(off) || off.length !== 2 || off.some((d) => !Number.isSafeInteger(d) || d < 0) || off[1] < off[0]) {
    throw new WeightsFormatError(file, 'bad-offsets', `data_offsets ${describeJson(off)} must be [begin, end] with 0 ≤ begin ≤ end`, name);
  }
  const [begin, end] = off as [number, number];
  const byteLength = (shape as number[]).reduce((a, d) => a * d, DTYPE_BYTES[dtype]);
  if (end - begin !== byteLength) {
    throw new WeightsFormatError(file, 'shape-mismatch', `${dtype} ${describeJson(shape)} needs ${byteLength} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`, name);
  }
  if (end > dataSize) throw new WeightsFormatError(file, 'out-of-range', `data_offsets end at ${end}, past the ${dataSize}-byte data section: the file is truncated (download it again)`, name);
  return { dtype, shape: shape as number[], byteLength, begin, end };
}

function checkOverlaps(tensors: Map<string, TensorInfo>, file: string): void {
  const spans = [...tensors].filter(([, t]) => t.end > t.begin).sort((a, b) => a[1].begin - b[1].begin);
  for (let i = 1; i < spans.length; i++) {
    const [prevName, prev] = spans[i - 1];
    const [name, t] = spans[i];
    if (t.begin < prev.end) {
      throw new WeightsFormatError(file, 'overlap', `its bytes [${t.begin}, ${t.end}) overlap those of '${prevName}' [${prev.begin}, ${prev.end}); the header is corrupt`, name);
    }
  }
}
