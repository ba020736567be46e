import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource, loadPth, SafetensorsFile, toFloat32, WeightsFormatError, writeSafetensors } from '../../src/io/index.js';
import { floatToHalfBits, halfToFloat } from '../../src/io/dtype.js';

function header(obj: unknown, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(obj));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

async function openBytes(b: Uint8Array) {
  return SafetensorsFile.open(bytesSource('test.safetensors', b));
}

async function codeOf(b: Uint8Array): Promise<string> {
  try {
    const f = await openBytes(b);
    for (const n of f.names()) await f.read(n);
    return 'ok';
  } catch (e) {
    if (!(e instanceof WeightsFormatError)) throw e;
    return e.code;
  }
}

describe('safetensors', () => {
  it('round-trips F32, F16, I64 tensors and metadata', async () => {
    const half = Uint16Array.from([1, -2.5, 65504, 6e-8].map(floatToHalfBits));
    const bytes = writeSafetensors({
      b: { dtype: 'F32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) },
      a: { dtype: 'F16', shape: [4], data: half },
      c: { dtype: 'I64', shape: [2], data: BigInt64Array.from([5n, -7n]) },
      e: { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
    }, { format: 'pt' });
    expect((new DataView(bytes.buffer).getUint32(0, true) + 8) % 8).toBe(0);
    const f = await openBytes(bytes);
    expect(f.names()).toEqual(['a', 'b', 'c', 'e']);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(Array.from(toFloat32(await f.read('b')))).toEqual([1, 2, 3, 4]);
    expect(Array.from(toFloat32(await f.read('a')))).toEqual([1, -2.5, 65504, halfToFloat(floatToHalfBits(6e-8))]);
    expect(Array.from(toFloat32(await f.read('c')))).toEqual([5, -7]);
    expect((await f.read('e')).shape).toEqual([0, 3]);
  });

  const cases: Array<[string, Uint8Array]> = [
    ['truncated', new Uint8Array(5)],
    ['header-too-large', (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 1n << 40n, true); return b; })()],
    ['bad-json', (() => { const b = header({}, 0); b[8] = 0x7b; b[9] = 0x7b; return b; })()],
    ['bad-dtype', header({ x: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, 1)],
    ['bad-shape', header({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4)],
    ['shape-mismatch', header({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4)],
    ['out-of-range', header({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4)],
    ['overlap', header({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8)],
    ['bad-offsets', header({ x: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, 8)],
    ['bad-metadata', header({ __metadata__: { a: 1 } }, 0)],
  ];
  for (const [code, bytes] of cases) {
    it(`rejects a file with ${code}, naming the file`, async () => {
      const err = await openBytes(bytes).catch((e) => e);
      expect(err).toBeInstanceOf(WeightsFormatError);
      expect(err.code).toBe(code);
      expect(err.message).toContain('test.safetensors');
    });
  }

  it('names the tensor in per-tensor errors', async () => {
    const err = await openBytes(header({ 'down.0.weight': { dtype: 'F32', shape: [3], data_offsets: [0, 4] } }, 4)).catch((e) => e);
    expect(err.message).toContain("tensor 'down.0.weight'");
  });
});

/** Seeded xorshift so failures reproduce. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

function mutate(src: Uint8Array, r: () => number): Uint8Array {
  const kind = Math.floor(r() * 4);
  if (kind === 0) return src.slice(0, Math.floor(r() * src.length)); // truncate
  const b = src.slice();
  const flips = 1 + Math.floor(r() * 8);
  for (let i = 0; i < flips; i++) {
    // Bias mutations towards headers (file start) and directories (zip end), where parsing decisions are made.
    const w = r();
    const at = w < 0.4 ? Math.floor(r() * Math.min(b.length, 200)) : w < 0.7 ? b.length - 1 - Math.floor(r() * Math.min(b.length, 200)) : Math.floor(r() * b.length);
    b[at] = kind === 1 ? b[at] ^ (1 << Math.floor(r() * 8)) : kind === 2 ? Math.floor(r() * 256) : [0, 0xff, 0x7f, 0x80, 0x22, 0x5d][Math.floor(r() * 6)];
  }
  return b;
}

describe('fuzzing the readers', () => {
  it('3000 mutated or truncated safetensors files give typed errors, never a crash, hang or giant allocation', async () => {
    const valid = writeSafetensors({
      'w.0': { dtype: 'F32', shape: [3, 4], data: new Float32Array(12).fill(1.5) },
      'w.1': { dtype: 'F16', shape: [5], data: new Uint16Array(5) },
      i: { dtype: 'I64', shape: [2], data: new BigInt64Array(2) },
    });
    const r = rng(42);
    const outcomes = new Map<string, number>();
    for (let k = 0; k < 3000; k++) {
      const code = await codeOf(mutate(valid, r));
      outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
    }
    expect(outcomes.size).toBeGreaterThan(3);
  });

  it('3000 mutated or truncated torch.save archives give typed errors', async () => {
    const valid = readFileSync(new URL('../fixtures/pth_cases/views.pth', import.meta.url));
    const r = rng(7);
    let typed = 0;
    for (let k = 0; k < 3000; k++) {
      try {
        await loadPth(bytesSource('fuzz.pth', mutate(new Uint8Array(valid), r)));
      } catch (e) {
        if (!(e instanceof WeightsFormatError)) throw new Error(`mutation ${k}: ${String(e)}`);
        typed++;
      }
    }
    expect(typed).toBeGreaterThan(1000);
  });
});
