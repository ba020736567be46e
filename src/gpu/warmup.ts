// Compiling kernels ahead of their first use. Software adapters (lavapipe/llvmpipe, SwiftShader)
// translate a compute pipeline to machine code only when it is first dispatched, on the queue's
// thread, so a cold first run stalls inside whatever step happens to need a new kernel. Tracing a
// computation (launches recorded, nothing dispatched) tells which pipelines it needs; compileKernels
// then builds each one and, on CPU adapters, runs it once on scratch buffers, so the compile happens
// at a known time with progress to show, and can overlap CPU work (real GPUs compile at creation:
// there the pipelines are created asynchronously, in parallel).
import type { GpuContext } from './context.js';
import type { CompileRecord } from './pipeline-cache.js';

/** One launch as recorded by a trace: enough to build its pipeline and bind scratch buffers. */
export interface KernelUse {
  code: string;
  entry: string;
  constants?: Record<string, number>;
  label: { name: string; variant: string };
  /** Bytes of each buffer binding, in binding order (the meta buffer last, when there is one). */
  bindingBytes: number[];
}

/** Records the launches made while it is installed on a context (ctx.tracer). */
export class KernelTrace {
  private readonly seen = new Map<string, KernelUse>();

  record(use: KernelUse): void {
    const key = pipelineKey(use);
    if (!this.seen.has(key)) this.seen.set(key, use);
  }

  get uses(): KernelUse[] { return [...this.seen.values()]; }
}

function pipelineKey(u: Pick<KernelUse, 'code' | 'entry' | 'constants'>): string {
  return `${u.entry}|${u.constants ? JSON.stringify(u.constants) : ''}|${u.code}`;
}

/**
 * The kernels `fn` launches, without running them: launches are recorded instead of dispatched, so
 * its tensors hold garbage (fn must not depend on their values; wrap it in tidy() so that they are freed).
 */
export function traceKernels(ctx: GpuContext, fn: () => void): KernelUse[] {
  if (ctx.tracer) throw new Error('cflens: traceKernels: a trace is already running on this context');
  const trace = new KernelTrace();
  ctx.tracer = trace;
  try {
    fn();
  } finally {
    ctx.tracer = null;
  }
  return trace.uses;
}

export interface CompileProgress { done: number; total: number; ms: number; kernel: string }

export interface CompileReport {
  /** Pipelines built now (those already in the cache are skipped). */
  compiled: CompileRecord[];
  ms: number;
}

const SCRATCH_BYTES = 1 << 16;

/**
 * Builds the pipelines of `uses` that the context does not have yet. On CPU adapters each is also run
 * once (one workgroup, scratch buffers, parameters of ones so that every loop is short) and awaited,
 * which is where those adapters compile; the time lands in the pipeline's CompileRecord.firstRunMs.
 */
export async function compileKernels(
  ctx: GpuContext, uses: readonly KernelUse[], o: { onProgress?: (p: CompileProgress) => void } = {},
): Promise<CompileReport> {
  const unique = new Map<string, KernelUse>();
  for (const u of uses) if (!ctx.pipelines.has(u.code, u.entry, u.constants)) unique.set(pipelineKey(u), u);
  const todo = [...unique.values()];
  const t0 = performance.now();
  const compiled: CompileRecord[] = [];
  const report = (u: KernelUse) => o.onProgress?.({ done: compiled.length, total: todo.length, ms: performance.now() - t0, kernel: u.label.name });
  const noteOf = (u: KernelUse) => compiled.push(ctx.pipelines.recordOf(u.code, u.entry, u.constants)!);
  if (!ctx.caps.isCpu) {
    await Promise.all(todo.map((u) => ctx.pipelines.getAsync(u.code, u.entry, u.constants, u.label).then(() => {
      noteOf(u);
      report(u);
    })));
    return { compiled, ms: performance.now() - t0 };
  }
  const { device } = ctx;
  const most = Math.max(0, ...todo.map((u) => u.bindingBytes.length));
  const scratch = Array.from({ length: most }, () => device.createBuffer({ size: SCRATCH_BYTES, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST }));
  const ones = new Uint32Array(SCRATCH_BYTES / 4).fill(1);
  try {
    for (const u of todo) {
      ctx.check();
      const pipeline = ctx.pipelines.get(u.code, u.entry, u.constants, u.label);
      const record = ctx.pipelines.recordOf(u.code, u.entry, u.constants)!;
      // Refilled every time: an earlier run may have left huge loop bounds in a buffer read as parameters.
      for (let i = 0; i < u.bindingBytes.length; i++) device.queue.writeBuffer(scratch[i], 0, ones);
      const entries = u.bindingBytes.map((bytes, binding) => ({
        binding, resource: { buffer: scratch[binding], size: Math.min(SCRATCH_BYTES, Math.max(16, Math.ceil(bytes / 16) * 16)) },
      }));
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
      pass.dispatchWorkgroups(1);
      pass.end();
      const t = performance.now();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
      record.firstRunMs = performance.now() - t;
      compiled.push(record);
      report(u);
    }
  } finally {
    for (const b of scratch) b.destroy();
  }
  ctx.check();
  return { compiled, ms: performance.now() - t0 };
}

/** traceKernels then compileKernels: `fn` is run without dispatching, its kernels compiled. */
export async function precompile(ctx: GpuContext, fn: () => void, o: { onProgress?: (p: CompileProgress) => void } = {}): Promise<CompileReport> {
  return compileKernels(ctx, traceKernels(ctx, fn), o);
}
