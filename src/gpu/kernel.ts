import type { Binding, GpuContext } from './context.js';
import { GpuLimitError } from './errors.js';
import { kernelLabel, kernelName } from './wgsl.js';

/**
 * Workgroup counts for `n` threads in groups of `wg`, spread over y when x would pass the
 * per-dimension limit. Shaders recover the linear index as gid.x + gid.y * nwg.x * wg.
 */
export function grid1D(n: number, wg: number, maxPerDim = 65535): [number, number] {
  const groups = Math.max(1, Math.ceil(n / wg));
  if (groups <= maxPerDim) return [groups, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y];
}

/**
 * Runs a kernel. Buffers bind at 0..k-1 in order; `meta` (the words of the kernel's KernelParams,
 * src/gpu/wgsl.ts) binds last as read-only storage. The meta buffer is released right away and recycled only after submit.
 */
export function launch(
  ctx: GpuContext,
  code: string,
  buffers: Binding[],
  meta: ArrayLike<number> | null,
  workgroups: [number, number?, number?],
  constants?: Record<string, number>,
  entry = 'main',
): void {
  if (ctx.tracer) {
    const bindingBytes = buffers.map((b) => ('buffer' in b ? b.size : ctx.dataBytes(b)));
    if (meta) bindingBytes.push(Math.max(16, meta.length * 4));
    ctx.tracer.record({ code, entry, constants, label: kernelLabel(code, entry), bindingBytes });
    return;
  }
  const name = kernelName(code, entry);
  const pipeline = ctx.pipelines.get(code, entry, constants, kernelLabel(code, entry));
  if (meta) {
    const words = meta instanceof Uint32Array ? meta : Uint32Array.from(meta);
    const mbuf = ctx.createBuffer(Math.max(16, words.byteLength));
    ctx.writeBuffer(mbuf, words);
    ctx.dispatch(pipeline, [...buffers, mbuf], workgroups, name);
    ctx.releaseBuffer(mbuf);
  } else {
    ctx.dispatch(pipeline, buffers, workgroups, name);
  }
}

/**
 * Splits `count` units of `unitBytes` bytes (rows of a tensor) into ranges that one binding can cover,
 * each starting at an offset the adapter accepts: [firstUnit, units] pairs. One range when it all fits.
 */
export function bindingChunks(ctx: GpuContext, count: number, unitBytes: number): [number, number][] {
  const limit = ctx.maxBinding;
  if (count * unitBytes <= limit) return [[0, count]];
  // Units per chunk: a multiple of the units that make an aligned offset, as many as fit.
  const align = ctx.bindingAlignment;
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  const step = align / gcd(align, unitBytes);
  const per = Math.floor(limit / unitBytes / step) * step;
  if (per < 1) throw new GpuLimitError(`one row of ${unitBytes} bytes (aligned to ${align})`, unitBytes * step, 'maxStorageBufferBindingSize', limit);
  const out: [number, number][] = [];
  for (let u = 0; u < count; u += per) out.push([u, Math.min(per, count - u)]);
  return out;
}

/** The byte range of `units` units from `first` of a buffer, as a binding. */
export function rangeOf(buffer: GPUBuffer, first: number, units: number, unitBytes: number): Binding {
  return { buffer, offset: first * unitBytes, size: units * unitBytes };
}
