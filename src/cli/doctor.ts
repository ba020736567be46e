import { initGpu, type GpuContext } from '../gpu/index.js';
import { tidy } from '../autograd/index.js';
import { arange, exp, mul, sum } from '../ops/index.js';
import { formatShaderCache, shaderCacheInfo, type ShaderCacheInfo } from './shader-cache.js';

export interface DoctorReport {
  ok: boolean;
  adapter?: GpuContext['summary'];
  smoke?: { expected: number; got: number; relError: number };
  /** The driver's persistent cache of compiled kernels (what makes later runs start fast). */
  shaderCache?: ShaderCacheInfo;
  error?: string;
}

export interface SelfCheck { ok: boolean; expected: number; got: number; relError: number }

/** One small computation on the adapter against the CPU: catches adapters that compute nothing or garbage. */
export async function selfCheck(): Promise<SelfCheck> {
  const n = 1000;
  const y = tidy(() => sum(exp(mul(arange(n), 1 / n))));
  const got = await y.item();
  y.dispose();
  let expected = 0;
  for (let i = 0; i < n; i++) expected += Math.exp(i / n);
  const relError = Math.abs(got - expected) / expected;
  return { ok: relError < 1e-5, expected, got, relError };
}

/** Throws, naming the adapter and what to do, when the self-check fails. */
export async function requireWorkingAdapter(ctx: GpuContext): Promise<void> {
  const c = await selfCheck();
  if (c.ok) return;
  const a = ctx.summary;
  throw new Error(
    `cflens: the GPU adapter '${a.description || a.device || a.vendor || 'unnamed'}' (backend ${a.backend}) computes wrong results: ` +
    `a test sum gave ${c.got}, the CPU ${c.expected.toFixed(4)}. ` +
    'Nothing was computed; run `cflens doctor` and pick another adapter (CFLENS_BACKEND=vulkan|opengles)',
  );
}

/** Finds the adapter and checks one small computation against the CPU. */
export async function doctor(): Promise<DoctorReport> {
  let ctx: GpuContext;
  try {
    ctx = await initGpu();
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const smoke = await selfCheck();
  return {
    ok: smoke.ok, adapter: ctx.summary, smoke: { expected: smoke.expected, got: smoke.got, relError: smoke.relError },
    shaderCache: shaderCacheInfo(ctx.summary),
  };
}

export function formatDoctor(r: DoctorReport): string {
  if (!r.adapter) return `cflens doctor: FAILED\n${r.error}`;
  const a = r.adapter;
  const lines = [
    `adapter      ${a.description || a.device || '(unnamed)'} [${a.vendor}${a.architecture ? `, ${a.architecture}` : ''}]${a.isCpu ? ' (software / CPU)' : ''}`,
    `backend      ${a.source}, ${a.backend}, feature level ${a.featureLevel}`,
    `features     ${a.features.join(', ') || '(none)'}`,
    'limits',
    ...Object.entries(a.limits).map(([k, v]) => `  ${k.padEnd(36)} ${v}`),
    `shader cache ${r.shaderCache ? formatShaderCache(r.shaderCache) : '(unknown)'}`,
    `smoke        sum(exp(arange(1000)/1000)) = ${r.smoke!.got} (CPU ${r.smoke!.expected.toFixed(4)}, rel. error ${r.smoke!.relError.toExponential(2)})`,
    r.ok ? 'status       OK' : 'status       FAILED: the GPU result differs from the CPU',
  ];
  return lines.join('\n');
}
