import { GpuContext } from './context.js';
import type { GpuOptions } from './adapter.js';
import { withFlagsOn, type FlagValues } from './flags.js';

export { GpuContext, subgroupLanes, type AdapterSummary, type AdapterCaps, type Binding } from './context.js';
export { defineFlag, describeFlags, oneOf, Flags, type FlagValues, type FlagName, type FlagRow } from './flags.js';
export { env } from './env.js';
export type { GpuOptions } from './adapter.js';
export * from './errors.js';
export { sizeClass, type PoolStats } from './buffer-pool.js';
export { launch, grid1D, bindingChunks, rangeOf } from './kernel.js';
export {
  shader, include, generated, defineParams, KernelParams, f32bits, unrollLoops, kernelName,
  type ParamFields, type ParamValues, type ParamField,
} from './wgsl.js';
export { formatKernelTimes, type KernelTime } from './profiler.js';
export { traceKernels, compileKernels, precompile, type KernelUse, type CompileProgress, type CompileReport } from './warmup.js';
export type { CompileRecord } from './pipeline-cache.js';

let current: GpuContext | null = null;
let pending: Promise<GpuContext> | null = null;

/** Creates (once) the default GPU context; `fresh: true` replaces it, e.g. after device loss. */
export async function initGpu(opts: GpuOptions & { fresh?: boolean } = {}): Promise<GpuContext> {
  if (opts.fresh) {
    current = null;
    pending = null;
  }
  if (current && !current.isLost) return current;
  pending ??= GpuContext.create(opts).then((c) => (current = c));
  try {
    return await pending;
  } finally {
    pending = null;
  }
}

/** The default context; initGpu() must have completed. */
export function gpu(): GpuContext {
  if (!current) throw new Error('cflens: no GPU context yet: `await initGpu()` before creating tensors.');
  return current;
}

export function hasGpu(): boolean { return current !== null; }

/**
 * Runs `fn` with some tuning switches set (on `ctx`, default the current context), restoring them after,
 * also when `fn` throws or its promise rejects: `await withFlags({ 'conv.algo': 'gemm' }, () => ...)`.
 */
export function withFlags<T>(values: Partial<FlagValues>, fn: () => T, ctx: GpuContext = gpu()): T {
  return withFlagsOn(ctx.flags, values, fn);
}
