import { describe, expect, it } from 'vitest';
import { Rng, hashSeed } from '../../src/world/index.js';

describe('world Rng', () => {
  it('is xoshiro128** (reference stream from state 1,2,3,4)', () => {
    const r = new Rng(0) as unknown as { s0: number; s1: number; s2: number; s3: number; nextU32(): number };
    r.s0 = 1;
    r.s1 = 2;
    r.s2 = 3;
    r.s3 = 4;
    expect([0, 1, 2, 3, 4, 5].map(() => r.nextU32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('is deterministic per seed and differs between seeds', () => {
    const a = Array.from({ length: 8 }, ((r) => () => r.nextU32())(new Rng(42)));
    const b = Array.from({ length: 8 }, ((r) => () => r.nextU32())(new Rng(42)));
    const c = Array.from({ length: 8 }, ((r) => () => r.nextU32())(new Rng(43)));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(hashSeed(1, 2)).toBe(hashSeed(1, 2));
    expect(hashSeed(1, 2)).not.toBe(hashSeed(2, 1));
  });

  it('has sane distributions', () => {
    const r = new Rng(7);
    let sum = 0;
    let sq = 0;
    let fsum = 0;
    const counts = [0, 0, 0, 0, 0];
    const N = 20000;
    for (let i = 0; i < N; i++) {
      const z = r.normal();
      sum += z;
      sq += z * z;
      const f = r.float();
      expect(f >= 0 && f < 1).toBe(true);
      fsum += f;
      counts[r.int(5)]++;
    }
    expect(Math.abs(sum / N)).toBeLessThan(0.03);
    expect(Math.abs(sq / N - 1)).toBeLessThan(0.05);
    expect(Math.abs(fsum / N - 0.5)).toBeLessThan(0.01);
    for (const c of counts) expect(Math.abs(c / N - 0.2)).toBeLessThan(0.015);
    const xs = r.shuffle([1, 2, 3, 4, 5, 6]);
    expect([...xs].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
