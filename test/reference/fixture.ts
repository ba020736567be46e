// Test-only, minimal safetensors + op-fixture loader for the reference tests (F32/F16/I64/BOOL).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type NDArray, nd } from '../../src/reference/index.ts';

export const OPS_FIXTURE_DIR = fileURLToPath(new URL('../fixtures/ops/', import.meta.url));

export interface OpCase {
  call: string;
  atol: number;
  rtol: number;
}

export interface OpFamily {
  cases: Record<string, OpCase>;
  tensors: Record<string, number[]>;
  convention: string;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function decode(bytes: Uint8Array, dtype: string): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = { F32: 4, F16: 2, I64: 8, BOOL: 1 }[dtype];
  if (width === undefined) throw new Error(`safetensors: unsupported dtype ${dtype}`);
  return Array.from({ length: bytes.byteLength / width }, (_, i) => {
    const o = i * width;
    if (dtype === 'F32') return view.getFloat32(o, true);
    if (dtype === 'F16') return halfToFloat(view.getUint16(o, true));
    if (dtype === 'I64') return Number(view.getBigInt64(o, true));
    return view.getUint8(o);
  });
}

export function readSafetensors(path: string): Map<string, NDArray> {
  const buf = new Uint8Array(readFileSync(path));
  const headerLen = Number(new DataView(buf.buffer, buf.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + headerLen))) as Record<string, HeaderEntry>;
  const base = 8 + headerLen;
  const out = new Map<string, NDArray>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = e.data_offsets;
    out.set(name, nd(e.shape, decode(buf.subarray(base + start, base + end), e.dtype)));
  }
  return out;
}

/** Reads `<family>.json` and `<family>.safetensors`; throws (failing the test) if either is missing. */
export function loadOpFamily(family: string): { meta: OpFamily; tensors: Map<string, NDArray> } {
  const meta = JSON.parse(readFileSync(`${OPS_FIXTURE_DIR}${family}.json`, 'utf8')) as OpFamily;
  const tensors = readSafetensors(`${OPS_FIXTURE_DIR}${family}.safetensors`);
  return { meta, tensors };
}

/** Largest violation of |a − b| <= atol + rtol·|b| (≤ 0 means allclose), with the worst index. */
export function allcloseReport(actual: NDArray, expected: NDArray, atol: number, rtol: number) {
  let worst = -Infinity;
  let at = -1;
  for (let i = 0; i < expected.data.length; i++) {
    const a = actual.data[i];
    const b = expected.data[i];
    const excess = Number.isNaN(a) !== Number.isNaN(b) ? Infinity : Number.isNaN(a) ? -1 : Math.abs(a - b) - (atol + rtol * Math.abs(b));
    if (excess > worst) {
      worst = excess;
      at = i;
    }
  }
  return { ok: worst <= 0, worst, at, actual: actual.data[at], expected: expected.data[at] };
}
