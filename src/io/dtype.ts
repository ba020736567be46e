// Bit-exact conversions between the half-precision formats and f32. NaN payloads survive (truncated
// to the narrower mantissa, as numpy does), so every f16 bit pattern round-trips through f32.

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
