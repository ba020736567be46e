import { WeightsFormatError } from './errors.js';
import { JsonNumber, JsonSyntaxError, parseStrictJson, type JsonValue } from './strict-json.js';
import { MAX_TENSORS, DTYPE_BYTES, isDType, type DType } from './tensor-data.js';

/** The format's limit on the header length (MAX_HEADER_SIZE in the reference crate). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  dtype: DType;
  shape: number[];
  byteLength: number;
  /** Byte range inside the data section (which starts at SafetensorsHeader.dataOffset). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** In the order the header lists them. */
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Offset of the data section in the file: 8 + header length. */
  dataOffset: number;
}

const NOT_SAFETENSORS = 'the file is truncated or not a safetensors file';
const CORRUPT = 'the header is corrupt: download or export the file again';

/** The u64 little-endian header length at the start of the file, checked against the file size. */
export function readHeaderLength(bytes: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || bytes.byteLength < 8) {
    throw new WeightsFormatError(
      file, 'truncated', `only ${Math.min(fileSize, bytes.byteLength)} bytes: a safetensors file starts with an 8-byte header length; ${NOT_SAFETENSORS}`,
    );
  }
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n < 2n) throw new WeightsFormatError(file, 'header-too-small', `header length ${n} is below 2 (the shortest JSON object, "{}"); ${NOT_SAFETENSORS}`);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new WeightsFormatError(file, 'header-too-large', `header length ${n} exceeds the format's limit of 100,000,000 bytes; ${NOT_SAFETENSORS}`);
  }
  if (n > BigInt(fileSize - 8)) {
    throw new WeightsFormatError(
      file, 'header-too-large', `header length ${n} is more than the ${fileSize - 8} bytes after the length field; ${NOT_SAFETENSORS}`,
    );
  }
  return Number(n);
}

/** A header value as (about) written, for messages. */
function describe(v: JsonValue | undefined): string {
  const text = (x: JsonValue): string =>
    x instanceof JsonNumber ? x.text
      : x instanceof Map ? `{${[...x].map(([k, y]) => `${JSON.stringify(k)}: ${text(y)}`).join(', ')}}`
        : Array.isArray(x) ? `[${x.map(text).join(', ')}]`
          : JSON.stringify(x);
  return v === undefined ? 'missing' : text(v).slice(0, 80);
}

/**
 * Validates a header completely, as the reference reader does: length, UTF-8 JSON object without
 * repeated keys, __metadata__, every tensor's dtype, shape and data_offsets, and the layout (the
 * tensors' byte ranges tile the data section from its first byte to the end of the file).
 * `bytes` holds at least the first 8 + header-length bytes of the file.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const n = readHeaderLength(bytes, fileSize, file);
  if (bytes.byteLength < 8 + n) throw new WeightsFormatError(file, 'truncated', `the header needs ${8 + n} bytes but only ${bytes.byteLength} were given`);
  const json = parseHeaderJson(bytes.subarray(8, 8 + n), file);

  const dataOffset = 8 + n;
  const dataSize = fileSize - dataOffset;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  const count = json.size - (json.has('__metadata__') ? 1 : 0);
  if (count > MAX_TENSORS) {
    throw new WeightsFormatError(
      file, 'too-many-tensors',
      `the header names ${count} tensors, more than the ${MAX_TENSORS} cflens reads from one file (real checkpoints hold thousands); ` +
      'the file is damaged or hostile',
    );
  }
  for (const [name, raw] of json) {
    if (name === '__metadata__') metadata = parseMetadata(raw, file);
    else tensors.set(name, parseEntry(raw, name, file, dataSize));
  }
  checkLayout(tensors, dataSize, file);
  return { tensors, metadata, dataOffset };
}

function parseHeaderJson(bytes: Uint8Array, file: string): Map<string, JsonValue> {
  let text: string;
  try {
    // ignoreBOM keeps a leading byte-order mark in the text, where the JSON parser refuses it as the reference does.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new WeightsFormatError(file, 'bad-json', `the header is not valid UTF-8; ${NOT_SAFETENSORS}`);
  }
  let json: JsonValue;
  try {
    json = parseStrictJson(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    if (e.duplicate) throw duplicateKeyError(e.duplicate.key, e.duplicate.path, file);
    throw new WeightsFormatError(file, 'bad-json', `the header is not valid JSON (${e.message}); ${NOT_SAFETENSORS}`);
  }
  if (!(json instanceof Map)) throw new WeightsFormatError(file, 'bad-json', `the header must be a JSON object, not ${describe(json)}; ${NOT_SAFETENSORS}`);
  return json;
}

function duplicateKeyError(key: string, path: readonly string[], file: string): WeightsFormatError {
  const fix = 'readers disagree on which one counts, so the file is ambiguous: write it again with each key once';
  if (path.length === 0) {
    return key === '__metadata__'
      ? new WeightsFormatError(file, 'duplicate-key', `the header has two __metadata__ entries; ${fix}`)
      : new WeightsFormatError(file, 'duplicate-key', `the header lists this tensor twice; ${fix}`, key);
  }
  const where = path.slice(1).map((k) => `.${k}`).join('');
  if (path[0] === '__metadata__') return new WeightsFormatError(file, 'duplicate-key', `__metadata__${where} has the key ${JSON.stringify(key)} twice; ${fix}`);
  return new WeightsFormatError(
    file, 'duplicate-key', `its entry${where ? ` (at ${where.slice(1)})` : ''} has the key ${JSON.stringify(key)} twice; ${fix}`, path[0],
  );
}

/** A map of strings to strings, or null (no metadata). */
function parseMetadata(raw: JsonValue, file: string): Record<string, string> {
  if (raw === null) return {};
  if (!(raw instanceof Map) || [...raw.values()].some((v) => typeof v !== 'string')) {
    throw new WeightsFormatError(file, 'bad-metadata', `__metadata__ must map strings to strings (or be null), got ${describe(raw)}; ${CORRUPT}`);
  }
  return Object.fromEntries(raw) as Record<string, string>;
}

/** A non-negative integer written as one (2, not 2.0, 2e0 or -0) that a JS number holds exactly. */
const isCount = (v: JsonValue): v is JsonNumber => v instanceof JsonNumber && v.isUnsignedInteger && Number.isSafeInteger(v.value);

const U64_MAX = 2n ** 64n - 1n;

/**
 * The byte count of dtype × shape, or null where the reference's u64 arithmetic overflows (it folds the
 * shape left to right, so [2^40, 2^40, 0] overflows before reaching the 0).
 */
function byteCount(dtype: DType, shape: readonly number[]): bigint | null {
  let count = 1n;
  for (const d of shape) {
    count *= BigInt(d);
    if (count > U64_MAX) return null;
  }
  const bits = count * BigInt(8 * DTYPE_BYTES[dtype]);
  return bits > U64_MAX ? null : bits / 8n;
}

function parseEntry(raw: JsonValue, name: string, file: string, dataSize: number): TensorInfo {
  if (!(raw instanceof Map)) {
    throw new WeightsFormatError(
      file, 'bad-entry', `the entry must be an object {dtype, shape, data_offsets}, got ${describe(raw)}; ${CORRUPT}`, name,
    );
  }
  const dtype = raw.get('dtype');
  const shape = raw.get('shape');
  const off = raw.get('data_offsets');
  if (!isDType(dtype)) {
    throw new WeightsFormatError(
      file, 'bad-dtype',
      `dtype ${describe(dtype)} is not one of ${Object.keys(DTYPE_BYTES).join(', ')}: convert the tensor to one of these (e.g. F32) and save the file again`,
      name,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new WeightsFormatError(
      file, 'bad-shape',
      `shape ${describe(shape)} must be a list of non-negative integers written as integers (2, not 2.0), each at most 2^53 - 1; ${CORRUPT}`,
      name,
    );
  }
  if (!Array.isArray(off) || off.length !== 2 || !off.every(isCount) || off[1].value < off[0].value) {
    throw new WeightsFormatError(
      file, 'bad-offsets', `data_offsets ${describe(off)} must be [begin, end]: two integers with 0 ≤ begin ≤ end; ${CORRUPT}`, name,
    );
  }
  const dims = shape.map((d) => d.value);
  const [begin, end] = [off[0].value, off[1].value];
  const bytes = byteCount(dtype, dims);
  if (bytes === null) {
    throw new WeightsFormatError(file, 'shape-mismatch', `${dtype} [${dims.join(', ')}] has a byte count that overflows 64 bits; ${CORRUPT}`, name);
  }
  if (bytes !== BigInt(end - begin)) {
    throw new WeightsFormatError(
      file, 'shape-mismatch',
      `${dtype} [${dims.join(', ')}] needs ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}; ${CORRUPT}`,
      name,
    );
  }
  if (end > dataSize) {
    throw new WeightsFormatError(
      file, 'out-of-range', `data_offsets end at ${end}, past the ${dataSize}-byte data section: the file is truncated (download it again)`, name,
    );
  }
  return { dtype, shape: dims, byteLength: end - begin, begin, end };
}

/**
 * Sorted by (begin, end), the tensors must follow each other with no gap and no overlap, from offset 0
 * to the end of the file (zero-byte tensors sit where the previous one ends). Anything else would leave
 * bytes that belong to no tensor, or to two: a lying header length, for one, shifts every offset.
 */
function checkLayout(tensors: Map<string, TensorInfo>, dataSize: number, file: string): void {
  const spans = [...tensors].sort(([, a], [, b]) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev: [string, TensorInfo] | undefined;
  for (const [name, t] of spans) {
    if (prev && t.begin < at) {
      const [prevName, p] = prev;
      throw new WeightsFormatError(
        file, 'overlap',
        `its bytes [${t.begin}, ${t.end}) start inside those of '${prevName}' [${p.begin}, ${p.end}); tensors must not share bytes: ${CORRUPT}`,
        name,
      );
    }
    if (t.begin > at) {
      const before = prev ? `the previous tensor, '${prev[0]}', ends at ${at}` : 'the data section starts at 0';
      throw new WeightsFormatError(
        file, 'gap',
        `its bytes start at ${t.begin} but ${before}: the ${t.begin - at} bytes [${at}, ${t.begin}) belong to no tensor, ` +
        `and the format requires tensors to cover the data section back to back; ${CORRUPT}`,
        name,
      );
    }
    at = t.end;
    prev = [name, t];
  }
  if (at !== dataSize) {
    const last = prev ? `the last tensor, '${prev[0]}', ends at ${at}` : 'the header lists no tensor';
    throw new WeightsFormatError(
      file, 'trailing-bytes',
      `the data section has ${dataSize} bytes but ${last}: ${dataSize - at} bytes at the end belong to no tensor; ` +
      'the file was damaged or appended to, or its header length is wrong (download or export it again)',
    );
  }
}
