import { bfloat16BitsToFloat32, float8E4M3BitsToFloat32, float8E5M2BitsToFloat32, halfBitsToFloat32, int64ToFloat32 } from './dtype.js';

/** Safetensors dtype names, which the torch reader uses too. */
export type DType =
  | 'F64' | 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2'
  | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

/** Bytes per element, indexable by any string (unknown names give undefined). */
export const DTYPE_BYTES: Readonly<Record<string, number>> = Object.freeze({
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
});

/** Own keys only: 'toString' or 'constructor' are not dtypes. */
export const isDType = (s: unknown): s is DType => typeof s === 'string' && Object.hasOwn(DTYPE_BYTES, s);

/** The largest tensor read into one buffer (a Node 20 ArrayBuffer holds at most 4 GiB). */
export const MAX_TENSOR_BYTES = 2 ** 32;
/**
 * Tensors one checkpoint may name. Real checkpoints hold thousands; a file naming millions is a resource
 * bomb (a 71 MB header of 1.2 M empty tensors), refused before any per-tensor work.
 */
export const MAX_TENSORS = 100_000;

export type TensorArray =
  | Float64Array | Float32Array | Uint16Array | BigInt64Array | BigUint64Array | Int32Array | Uint32Array | Int16Array | Int8Array | Uint8Array;

/**
 * A tensor read from a weights file, in its stored dtype (F16 and BF16 as raw Uint16 bits, F8_E4M3 and
 * F8_E5M2 as raw Uint8 bits, BOOL as Uint8).
 */
export interface TensorData {
  name: string;
  dtype: DType;
  shape: number[];
  data: TensorArray;
}

/** A typed view of `buffer` (which must be aligned for the element size) for a dtype. */
export function typedArrayFor(dtype: DType, buffer: ArrayBuffer, byteOffset = 0, length?: number): TensorArray {
  switch (dtype) {
    case 'F64': return new Float64Array(buffer, byteOffset, length);
    case 'F32': return new Float32Array(buffer, byteOffset, length);
    case 'F16':
    case 'BF16':
    case 'U16': return new Uint16Array(buffer, byteOffset, length);
    case 'I64': return new BigInt64Array(buffer, byteOffset, length);
    case 'U64': return new BigUint64Array(buffer, byteOffset, length);
    case 'I32': return new Int32Array(buffer, byteOffset, length);
    case 'U32': return new Uint32Array(buffer, byteOffset, length);
    case 'I16': return new Int16Array(buffer, byteOffset, length);
    case 'I8': return new Int8Array(buffer, byteOffset, length);
    case 'F8_E4M3':
    case 'F8_E5M2':
    case 'U8':
    case 'BOOL': return new Uint8Array(buffer, byteOffset, length);
  }
}

/**
 * Any stored dtype as f32 values (F32 data is returned as is, not copied). Every value is rounded once
 * to the nearest f32, ties to even, as torch's `.float()` does: integers above 2^24 lose low bits, and
 * I64/U64 ones above 2^53 are rounded directly, not through an f64 (which could round twice).
 */
export function toFloat32(t: Pick<TensorData, 'dtype' | 'data'>): Float32Array {
  switch (t.dtype) {
    case 'F32': return t.data as Float32Array;
    case 'F16': return halfBitsToFloat32(t.data as Uint16Array);
    case 'BF16': return bfloat16BitsToFloat32(t.data as Uint16Array);
    case 'F8_E4M3': return float8E4M3BitsToFloat32(t.data as Uint8Array);
    case 'F8_E5M2': return float8E5M2BitsToFloat32(t.data as Uint8Array);
    case 'I64':
    case 'U64': return Float32Array.from(t.data as BigInt64Array | BigUint64Array, int64ToFloat32);
    default: return Float32Array.from(t.data as ArrayLike<number>);
  }
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
