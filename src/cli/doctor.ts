import { initGpu, type GpuContext } from '../gpu/index.js';
import { arange, exp, mul, sum, tidy } from '../index.js';
import { formatShaderCache, shaderCacheInfo, type ShaderCacheInfo } from './shader-cache.js';

export interface DoctorReport {
  ok: boolean;
  adapter?: GpuContext['summary'];
  smoke?: { expected: number; got: number; relError: number };
  /** The driver's persistent cache of compiled kernels (what makes later runs start fast). */
  shaderCache?: ShaderCacheInfo;
  error?: string;
}

/** Finds the adapter and checks one small computation against the CPU. */
export async function doctor(): Promise<DoctorReport> {
  let ctx: GpuContext;
  try {
    ctx = await initGpu();
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const n = 1000;
  const y = tidy(() => sum(exp(mul(arange(n), 1 / n))));
  const got = await y.item();
  y.dispose();
  let expected = 0;
  for (let i = 0; i < n; i++) expected += Math.exp(i / n);
  const relError = Math.abs(got - expected) / expected;
  return { ok: relError < 1e-5, adapter: ctx.summary, smoke: { expected, got, relError }, shaderCache: shaderCacheInfo(ctx.summary) };
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
