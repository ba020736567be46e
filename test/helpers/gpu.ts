import { afterAll, beforeAll, expect } from 'vitest';
import { uploadHost } from './upload.js';
import { fromArray, gradcheck, initGpu, precompile, tidy, type FlagValues, type GpuContext, type HostArray, type Tensor, shapeStr } from '../../src/index.js';
import type { NDArray } from '../../src/reference/index.js';

let ctx: GpuContext | null = null;

/** One GPU context per test file (vitest runs each file in its own process). */
export async function setupGpu(): Promise<GpuContext> {
  ctx ??= await initGpu();
  return ctx;
}

/** Sets tuning switches for every test of the enclosing describe block, restoring them after it. */
export function useFlags(values: Partial<FlagValues>): void {
  let before: Partial<FlagValues> = {};
  beforeAll(async () => {
    before = (await setupGpu()).flags.set(values);
  });
  afterAll(async () => {
    (await setupGpu()).flags.set(before);
  });
}

/**
 * Compiles, before a file's tests, the kernels `fn` launches (traced: nothing runs). A software adapter
 * compiles each kernel on its first use, and the kernel-family test files need a minute or two of that from
 * an empty cache on two busy cores; compiled up front, each test measures itself within its 30 s budget,
 * while compiling has its own bound here (and still counts in the suite's wall time).
 */
export function precompileForFile(fn: () => void, timeoutMs = 240_000): void {
  beforeAll(async () => {
    const ctx = await setupGpu();
    await precompile(ctx, () => tidy(() => {
      fn();
    }));
  }, timeoutMs);
}

/** A host array as the CPU reference takes it. */
export const nd = (a: HostArray): NDArray => ({ shape: [...a.shape], data: a.data });
/** The same, with every value rounded to f32 first (what the GPU holds). */
export const f32 = (a: HostArray): NDArray => ({ shape: [...a.shape], data: Float64Array.from(Float32Array.from(a.data)) });
/** A host array as an f32 tensor on the current context. */
export const up = (a: HostArray, requiresGrad = false): Tensor => fromArray(Float32Array.from(a.data), a.shape, { requiresGrad });

/** Seeded xorshift values in [low, high). */
export function randomArray(shape: readonly number[], seed: number, low = -1, high = 1): HostArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    data[i] = low + (high - low) * (s / 2 ** 32);
  }
  return { shape: [...shape], data };
}

export interface Tolerance { atol?: number; rtol?: number }

/** Asserts allclose(actual, expected): |a - e| <= atol + rtol·|e| everywhere, shapes equal. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, { atol = 1e-5, rtol = 1e-4 }: Tolerance = {}, label = ''): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  let worst = -Infinity;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (e === a) continue;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= worst)) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      at = i;
    }
  }
  if (worst > 0) {
    expect.fail(`${label}: element ${at}: got ${actual[at]}, expected ${expected[at]} (atol ${atol}, rtol ${rtol})`);
  }
}

export async function expectTensor(t: Tensor, expected: HostArray, tol: Tolerance = {}, label = ''): Promise<void> {
  expect(shapeStr(t.shape), `${label}: shape`).toBe(shapeStr(expected.shape));
  assertClose(await t.toArray(), expected.data, tol, label);
}

export interface OpCheck extends Tolerance {
  /** Check gradients by finite differences (default true). */
  grad?: boolean;
  wrt?: readonly number[];
  gradAtol?: number;
  gradRtol?: number;
  eps?: number;
}

/** Forward against the CPU reference, then gradcheck, for one op on given inputs. */
export async function checkOp(
  label: string,
  gpuFn: (...xs: Tensor[]) => Tensor,
  refFn: (...xs: HostArray[]) => HostArray,
  inputs: readonly HostArray[],
  opts: OpCheck = {},
): Promise<void> {
  const c = await setupGpu();
  const ts = inputs.map((a) => uploadHost(c, a));
  const rounded = inputs.map((a) => ({ shape: a.shape, data: Float64Array.from(Float32Array.from(a.data)) }));
  try {
    const y = gpuFn(...ts);
    await expectTensor(y, refFn(...rounded), opts, `${label} forward`);
    y.dispose();
  } finally {
    for (const t of ts) t.dispose();
  }
  if (opts.grad === false) return;
  const r = await gradcheck(c, gpuFn, refFn, inputs, {
    atol: opts.gradAtol ?? 2e-3,
    rtol: opts.gradRtol ?? 2e-2,
    eps: opts.eps ?? 1e-6,
    wrt: opts.wrt,
  });
  if (!r.ok) expect.fail(`${label} gradcheck: ${r.messages.join('; ')}`);
}
