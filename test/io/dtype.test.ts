import { describe, expect, it } from 'vitest';
import {
  bfloat16BitsToFloat32, float32BitsToHalf, float32ToHalfBits, floatToHalfBits, halfBitsToFloat32, halfToFloat, halfToFloat32Bits,
} from '../../src/io/dtype.js';

/** Independent reference: exact value of every finite positive f16, then nearest with ties to even. */
const positiveHalves = Array.from({ length: 0x7c00 }, (_, h) => ((h >> 10) === 0 ? (h & 0x3ff) * 2 ** -24 : (1 + (h & 0x3ff) / 1024) * 2 ** ((h >> 10) - 15)));
function referenceHalf(v: number): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00; // 65504 + half an ulp rounds (to even) to infinity
  let lo = 0;
  let hi = 0x7bff;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (positiveHalves[mid] <= a) lo = mid;
    else hi = mid - 1;
  }
  if (lo === 0x7bff) return sign | lo;
  const down = a - positiveHalves[lo];
  const up = positiveHalves[lo + 1] - a;
  return sign | (down < up || (down === up && (lo & 1) === 0) ? lo : lo + 1);
}

describe('f16 and bf16 conversions', () => {
  it('widen every f16 bit pattern exactly and narrow it back to the same bits (NaN payloads included)', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const wide = halfBitsToFloat32(all);
    const back = float32ToHalfBits(wide);
    expect(Buffer.from(back.buffer).equals(Buffer.from(all.buffer))).toBe(true);
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const exp = (h >> 10) & 0x1f;
      const want = exp === 31 && h & 0x3ff ? NaN : (h & 0x8000 ? -1 : 1) * (exp === 31 ? Infinity : positiveHalves[h & 0x7fff]);
      if (!Object.is(wide[h], want) || halfToFloat32Bits(h) !== new Uint32Array(wide.buffer)[h]) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it('knows the landmarks: subnormals, the largest finite value, infinities, signed zero', () => {
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x03ff)).toBe(1023 * 2 ** -24);
    expect(halfToFloat(0x0400)).toBe(2 ** -14);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
    expect(floatToHalfBits(65519.99)).toBe(0x7bff);
    expect(floatToHalfBits(65520)).toBe(0x7c00);
    expect(floatToHalfBits(2 ** -25)).toBe(0); // a tie between 0 and the smallest subnormal: even wins
    expect(floatToHalfBits(2 ** -25 * 1.0001)).toBe(1);
    expect(floatToHalfBits(-0)).toBe(0x8000);
    expect(floatToHalfBits(1e-10)).toBe(0);
    expect(floatToHalfBits(NaN) & 0x7c00).toBe(0x7c00);
    expect(floatToHalfBits(NaN) & 0x3ff).not.toBe(0);
    expect(float32BitsToHalf(0x7f800001)).toBe(0x7e00); // a payload below f16's mantissa still gives a NaN
  });

  it('narrow 300k f32 values (every exponent, halfway cases) exactly like an independent reference', () => {
    let s = 12345;
    const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let i = 0; i < 300_000; i++) {
      u[0] = i % 3 === 0 ? (rnd() & 0x8000_0000) | ((rnd() % 40 + 97) << 23) | (rnd() & 0x7fe000) | 0x1000 : rnd(); // every third one a tie
      if (!Number.isFinite(f[0])) continue;
      const got = float32BitsToHalf(u[0]);
      if (got !== referenceHalf(f[0])) expect([f[0], got.toString(16)]).toEqual([f[0], referenceHalf(f[0]).toString(16)]);
    }
  });

  it('widen bf16 by placing the bits above 16 zero bits', () => {
    const b = Uint16Array.of(0x3f80, 0xc000, 0x7f80, 0x0001, 0x7fc1);
    const f = bfloat16BitsToFloat32(b);
    expect(Array.from(f.slice(0, 3))).toEqual([1, -2, Infinity]);
    expect(Array.from(new Uint32Array(f.buffer))).toEqual([0x3f800000, 0xc0000000, 0x7f800000, 0x00010000, 0x7fc10000]);
  });
});
