import type { ByteSource } from '../../src/io/index.js';
import { WeightsFormatError } from '../../src/io/index.js';

/** Wraps a source and records every read, so tests can check what a reader asked for. */
export function recording(inner: ByteSource): ByteSource & { reads: Array<[number, number]>; largest: () => number } {
  const reads: Array<[number, number]> = [];
  return {
    name: inner.name,
    size: inner.size,
    reads,
    largest: () => Math.max(0, ...reads.map(([, l]) => l)),
    read: (offset, length) => {
      reads.push([offset, length]);
      return inner.read(offset, length);
    },
  };
}

/**
 * A huge file that exists only where regions are given (zeros elsewhere). Any read over `maxRead`
 * bytes fails the test: it would be the giant allocation a reader must refuse before making.
 */
export function virtualSource(name: string, size: number, regions: Array<[number, Uint8Array]>, maxRead = 64 * 1024 * 1024): ByteSource {
  return {
    name,
    size,
    read: async (offset, length) => {
      if (length > maxRead) throw new Error(`test guard: a ${length}-byte read was attempted (limit ${maxRead})`);
      if (offset < 0 || offset + length > size) throw new WeightsFormatError(name, 'truncated', 'past the end');
      const out = new Uint8Array(length);
      for (const [at, bytes] of regions) {
        const from = Math.max(at, offset);
        const to = Math.min(at + bytes.length, offset + length);
        if (from < to) out.set(bytes.subarray(from - at, to - at), from - offset);
      }
      return out;
    },
  };
}

/** The code of the WeightsFormatError a promise rejects with, or 'ok'; any other error fails the test. */
export async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof WeightsFormatError) return e.code;
    throw e;
  }
}

/** Seeded xorshift32: every fuzz case reproduces from its seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}
