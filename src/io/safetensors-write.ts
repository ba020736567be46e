import { DTYPE_BYTES, isDType, type DType } from './tensor-data.js';

export interface TensorToWrite {
  dtype: DType;
  shape: readonly number[];
  /** Little-endian element bytes (F16/BF16 as Uint16 bits, I64 as BigInt64Array). */
  data: ArrayBufferView;
}

/**
 * Serialises tensors as the reference writer does: a JSON header padded with spaces to a multiple of
 * 8 bytes, then the tensors' bytes back to back, sorted by name.
 */
export function writeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array<ArrayBuffer> {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new Error(`cflens: writeSafetensors: metadata '${k}' must be a string`);
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const n of names) {
    const t = tensors[n];
    if (n === '__metadata__') throw new Error("cflens: writeSafetensors: '__metadata__' is reserved and cannot name a tensor");
    if (!isDType(t.dtype)) throw new Error(`cflens: writeSafetensors: '${n}' has unknown dtype ${String(t.dtype)}`);
    if (t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new Error(`cflens: writeSafetensors: '${n}' has invalid shape [${t.shape.join(', ')}]`);
    const expected = t.shape.reduce((a, b) => a * b, DTYPE_BYTES[t.dtype]);
    if (t.data.byteLength !== expected) throw new Error(`cflens: writeSafetensors: '${n}' has ${t.data.byteLength} bytes but ${t.dtype} [${t.shape.join(', ')}] needs ${expected}`);
    header[n] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + expected] };
    offset += expected;
  }
  const text = JSON.stringify(header);
  const unpadded = new TextEncoder().encode(text).byteLength;
  const json = new TextEncoder().encode(text + ' '.repeat((8 - (unpadded % 8)) % 8));
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
