// Bit-exact conversions between the half-precision and 8-bit float formats and f32 (and 64-bit integers
// to f32). NaN payloads survive (truncated to the narrower mantissa, as numpy does), so every f16 bit
// pattern round-trips through f32.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f16 bits → f32 bits. */
export function halfToFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal: shift the leading 1 up to the implicit bit, lowering the exponent as we go.
  let e = 113;
  while (!(mant & 0x400)) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

/** f32 bits → f16 bits, rounding to nearest even; overflow → ±inf. */
export function float32BitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7c00 | (mant >>> 13 || 0x200) : sign | 0x7c00;
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    const full = mant | 0x800000;
    const shift = 14 - e;
    const h = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return sign | (rem > half || (rem === half && h & 1) ? h + 1 : h);
  }
  const h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (and 65520+ becomes inf).
  return sign | (rem > 0x1000 || (rem === 0x1000 && h & 1) ? h + 1 : h);
}

export function halfToFloat(h: number): number {
  u32[0] = halfToFloat32Bits(h);
  return f32[0];
}

/** A JS number → f16 bits (the number is first rounded to f32, as Float32Array would). */
export function floatToHalfBits(v: number): number {
  f32[0] = v;
  return float32BitsToHalf(u32[0]);
}

export function halfBitsToFloat32(src: Uint16Array): Float32Array {
  const out = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = halfToFloat32Bits(src[i]);
  return new Float32Array(out.buffer);
}

export function float32ToHalfBits(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = float32BitsToHalf(bits[i]);
  return out;
}

/** bf16 is the top half of an f32, so widening is exact. */
export function bfloat16BitsToFloat32(src: Uint16Array): Float32Array {
  const out = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
  return new Float32Array(out.buffer);
}

/** f8 E5M2 bits → f32 bits. E5M2 is the top byte of an f16 (bias 15, infinities and NaNs), so this is exact. */
export const float8E5M2ToFloat32Bits = (b: number): number => halfToFloat32Bits((b & 0xff) << 8);

/**
 * f8 E4M3 bits → f32 bits, in the "fn" variant of torch.float8_e4m3fn: bias 7, no infinities, only
 * S.1111.111 is NaN (so S.1111.110 = ±448 is the largest value), subnormals m × 2^-9.
 */
export function float8E4M3ToFloat32Bits(b: number): number {
  const sign = (b & 0x80) << 24;
  const exp = (b >> 3) & 0xf;
  let mant = b & 0x7;
  if (exp === 0xf && mant === 0x7) return (sign | 0x7fc00000) >>> 0;
  if (exp !== 0) return (sign | ((exp + 120) << 23) | (mant << 20)) >>> 0;
  if (mant === 0) return sign >>> 0;
  let e = 121; // the f32 exponent field of 2^-6, the subnormals' scale
  while (!(mant & 0x8)) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x7) << 20)) >>> 0;
}

const E4M3_TABLE = Uint32Array.from({ length: 256 }, (_, b) => float8E4M3ToFloat32Bits(b));
const E5M2_TABLE = Uint32Array.from({ length: 256 }, (_, b) => float8E5M2ToFloat32Bits(b));

const widenBytes = (src: Uint8Array, table: Uint32Array): Float32Array => {
  const out = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
  return new Float32Array(out.buffer);
};

export const float8E4M3BitsToFloat32 = (src: Uint8Array): Float32Array => widenBytes(src, E4M3_TABLE);
export const float8E5M2BitsToFloat32 = (src: Uint8Array): Float32Array => widenBytes(src, E5M2_TABLE);

const TWO_POW_53 = 2n ** 53n;

/**
 * A 64-bit integer rounded once to the nearest f32 (ties to even), as a C cast does. Number(v) first
 * would round twice above 2^53 (to f64, then to f32) and can land one f32 step off.
 */
export function int64ToFloat32(v: bigint): number {
  const a = v < 0n ? -v : v;
  if (a <= TWO_POW_53) return Math.fround(Number(v));
  const shift = a.toString(2).length - 24; // keep 24 significant bits
  const s = BigInt(shift);
  let q = a >> s;
  const rem = a - (q << s);
  const half = 1n << (s - 1n);
  if (rem > half || (rem === half && (q & 1n) === 1n)) q++;
  const r = Number(q) * 2 ** shift;
  return v < 0n ? -r : r;
}
