import { adapterLimits, findAdapter, OPTIONAL_FEATURES, type GpuOptions } from './adapter.js';
import { BufferPool } from './buffer-pool.js';
import { DeviceLostError, GpuError, GpuLimitError } from './errors.js';
import { PipelineCache } from './pipeline-cache.js';
import { KernelProfiler, type KernelTime } from './profiler.js';
import type { KernelTrace } from './warmup.js';
import { env } from './env.js';
import { defineFlag, Flags } from './flags.js';

declare module './flags.js' {
  interface FlagValues {
    subgroups: boolean;
  }
}
defineFlag({
  name: 'subgroups', default: true,
  doc: 'kernels may share data through subgroup operations where the adapter has fixed-size subgroups (false: every lane loads its own data)',
});

/** What the adapter can do, found once at creation: kernels choose by these, not by asking each other. */
export interface AdapterCaps {
  /** A software adapter (llvmpipe/lavapipe, SwiftShader): CPU-tuned kernels win there. */
  isCpu: boolean;
  f16: boolean;
  subgroups: boolean;
  timestamps: boolean;
  /** The subgroup size when the adapter fixes it (min = max, a power of two 4-64), else 0. */
  fixedSubgroupSize: number;
}

/** A whole buffer, or a byte range of one (offset aligned to minStorageBufferOffsetAlignment). */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset: number; size: number };

export const STORAGE_USAGE = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST
const READBACK_USAGE = 0x01 | 0x08; // MAP_READ | COPY_DST
const MAX_DISPATCHES_PER_SUBMIT = 128;

export interface AdapterSummary {
  source: string;
  backend: string;
  featureLevel: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isCpu: boolean;
  features: string[];
  limits: Record<string, number>;
}

function fixedSubgroupSizeOf(device: GPUDevice): number {
  const info = (device as unknown as { adapterInfo?: { subgroupMinSize?: number; subgroupMaxSize?: number } }).adapterInfo;
  const lo = info?.subgroupMinSize;
  const hi = info?.subgroupMaxSize;
  return lo && lo === hi && lo >= 4 && lo <= 64 && (lo & (lo - 1)) === 0 ? lo : 0;
}

/** The subgroup size kernels may rely on here: the adapter's fixed size, unless the 'subgroups' flag is off. */
export function subgroupLanes(ctx: GpuContext): number {
  return ctx.flags.get('subgroups') ? ctx.caps.fixedSubgroupSize : 0;
}

/** One WebGPU device with its buffer pool, pipeline cache and a batched command encoder. */
export class GpuContext {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly f16: boolean;
  readonly subgroups: boolean;
  readonly timestamps: boolean;
  readonly caps: AdapterCaps;
  /** The tuning switches of this context (see flags.ts; withFlags sets some for a while). */
  readonly flags = new Flags();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatches = 0;
  private lost: DeviceLostError | null = null;
  private asyncError: GpuError | null = null;
  submits = 0;
  /** Set by traceKernels(): launches are recorded there instead of dispatched. */
  tracer: KernelTrace | null = null;
  /** Set by startProfiling(): per-kernel GPU times from timestamp queries. */
  profiler: KernelProfiler | null = null;

  // `instance` is held so Dawn's instance is not garbage-collected while the device lives (that crashes Node).
  private constructor(readonly device: GPUDevice, readonly summary: AdapterSummary, private readonly instance: GPU) {
    this.pool = new BufferPool(device, device.limits.maxBufferSize);
    this.pipelines = new PipelineCache(device);
    this.f16 = device.features.has('shader-f16');
    this.subgroups = device.features.has('subgroups');
    this.timestamps = device.features.has('timestamp-query');
    this.caps = {
      isCpu: summary.isCpu, f16: this.f16, subgroups: this.subgroups, timestamps: this.timestamps,
      fixedSubgroupSize: this.subgroups ? fixedSubgroupSizeOf(device) : 0,
    };
    device.lost.then((info) => {
      if (info.reason !== 'destroyed' || !this.lost) this.lost = new DeviceLostError(info.reason ?? 'unknown', info.message);
    });
    device.addEventListener('uncapturederror', (ev) => {
      this.asyncError ??= new GpuError((ev as GPUUncapturedErrorEvent).error.message);
    });
  }

  static async create(opts: GpuOptions = {}): Promise<GpuContext> {
    const found = await findAdapter(opts);
    const { adapter } = found;
    const noF16 = opts.disableF16 || env('CFLENS_NO_F16') === '1';
    const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && !(noF16 && f === 'shader-f16'));
    const requiredLimits = adapterLimits(adapter);
    const device = await adapter.requestDevice({ requiredFeatures: requiredFeatures as GPUFeatureName[], requiredLimits });
    const info = adapter.info ?? ({} as GPUAdapterInfo);
    const text = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`.toLowerCase();
    const isCpu =
      /llvmpipe|lavapipe|swiftshader|software|cpu/.test(text) ||
      (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
      (info as unknown as { type?: string }).type === 'CPU';
    const summary: AdapterSummary = {
      source: found.source,
      backend: found.backend,
      featureLevel: found.featureLevel,
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      isCpu,
      features: [...device.features].sort(),
      limits: Object.fromEntries(Object.keys(requiredLimits).map((k) => [k, (device.limits as unknown as Record<string, number>)[k]])),
    };
    return new GpuContext(device, summary, found.gpu);
  }

  /** Throws the device-lost or asynchronous GPU error, if any, at the next call. */
  check(): void {
    if (this.lost) throw this.lost;
    if (this.asyncError) {
      const e = this.asyncError;
      this.asyncError = null;
      throw e;
    }
  }

  get isLost(): boolean { return this.lost !== null; }

  /** Marks the device as lost (also used to simulate loss in tests). */
  destroy(): void {
    this.lost ??= new DeviceLostError('destroyed', 'the context was destroyed');
    this.pass = null;
    this.encoder = null;
    this.device.destroy();
  }

  /**
   * Tests set this to exercise the split paths on tiny tensors: ops then treat it as the binding
   * limit (it must not exceed the device's own).
   */
  maxBindingOverride: number | null = null;

  /** The largest range one binding may cover (maxStorageBufferBindingSize, or the test override). */
  get maxBinding(): number { return Math.min(this.maxBindingOverride ?? Infinity, this.device.limits.maxStorageBufferBindingSize); }

  /** Offsets of ranged bindings must be multiples of this. */
  get bindingAlignment(): number { return this.device.limits.minStorageBufferOffsetAlignment; }

  /** The bytes a tensor asked for when its buffer was created (pool buffers may be larger). */
  dataBytes(buffer: GPUBuffer): number { return this.requested.get(buffer) ?? buffer.size; }
  private readonly requested = new WeakMap<GPUBuffer, number>();

  /**
   * A storage buffer of at least `bytes`. Up to maxBufferSize: buffers larger than one binding may
   * cover are bound in ranges by the ops that can split their work (see bindingChunks).
   */
  createBuffer(bytes: number): GPUBuffer {
    this.check();
    const max = this.device.limits.maxBufferSize;
    if (bytes > max) throw new GpuLimitError('a tensor buffer', bytes, 'maxBufferSize', max);
    const b = this.pool.acquire(bytes, STORAGE_USAGE);
    this.requested.set(b, bytes);
    return b;
  }

  /**
   * A storage buffer that lives as long as the context, outside the pool, made once per `key` (zeros of
   * `init` bytes, or the data `init()` builds): the placeholders bound where a kernel's optional input
   * is absent and the index tables ops cache per geometry. It does not count as live tensor memory
   * (pool.snapshot()).
   */
  constantBuffer(key: string, init: number | (() => ArrayBufferView)): GPUBuffer {
    let b = this.constants.get(key);
    if (!b) {
      this.check();
      const data = typeof init === 'number' ? null : init();
      const bytes = data ? data.byteLength : (init as number);
      b = this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 4) * 4), usage: STORAGE_USAGE });
      if (data) this.writeBuffer(b, data);
      this.constants.set(key, b);
    }
    return b;
  }
  private readonly constants = new Map<string, GPUBuffer>();

  releaseBuffer(buffer: GPUBuffer): void {
    if (!this.lost) this.pool.release(buffer);
  }

  /**
   * Queue write into a buffer that no recorded-but-unsubmitted command touches (a fresh buffer):
   * queue writes run before command buffers submitted later. Use overwrite() for live tensors.
   */
  writeBuffer(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.check();
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Overwrites a live buffer after everything recorded so far (which is submitted first). */
  overwrite(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    if (this.encoder) this.submit();
    this.writeBuffer(buffer, data, offset);
  }

  private getEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  /** The bind group of one dispatch: whole buffers (checked against the binding limit) or ranges. */
  bindGroup(pipeline: GPUComputePipeline, buffers: readonly Binding[], name?: string): GPUBindGroup {
    const limit = this.maxBinding;
    const entries = buffers.map((b, binding) => {
      if ('buffer' in b) {
        if (b.size > limit || b.offset % this.bindingAlignment) {
          throw new GpuError(`internal: kernel ${name ?? ''} binds ${b.size} bytes at offset ${b.offset} (limit ${limit}, alignment ${this.bindingAlignment})`);
        }
        return { binding, resource: { buffer: b.buffer, offset: b.offset, size: b.size } };
      }
      const bytes = this.dataBytes(b);
      if (bytes > limit) {
        throw new GpuLimitError(`${name ? `kernel '${name}'` : 'a kernel'}: operand ${binding} of ${bytes} bytes`, bytes, 'maxStorageBufferBindingSize', limit);
      }
      // Pool size classes may round a buffer past the binding limit; the data itself never is.
      return { binding, resource: { buffer: b, size: Math.min(b.size, limit, this.device.limits.maxStorageBufferBindingSize) } };
    });
    return this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  }

  /** Records one compute dispatch; commands are batched and submitted in groups. */
  dispatch(pipeline: GPUComputePipeline, buffers: readonly Binding[], workgroups: [number, number?, number?], name?: string): void {
    this.check();
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    for (const w of workgroups) if (w !== undefined && w > max) throw new GpuLimitError('a dispatch', w, 'maxComputeWorkgroupsPerDimension', max);
    const bindGroup = this.bindGroup(pipeline, buffers, name);
    if (this.profiler) {
      if (this.profiler.full) this.submit();
      this.endPass();
      this.pass = this.getEncoder().beginComputePass({ timestampWrites: this.profiler.timestampWrites(name ?? 'unnamed') });
    }
    this.pass ??= this.getEncoder().beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
    if (++this.dispatches >= MAX_DISPATCHES_PER_SUBMIT) this.submit();
  }

  copyBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.check();
    this.endPass();
    this.getEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Zeroes `bytes` (a multiple of 4) of a buffer from `offset`, in stream order with the dispatches. */
  clearBuffer(buffer: GPUBuffer, offset: number, bytes: number): void {
    this.check();
    this.endPass();
    this.getEncoder().clearBuffer(buffer, offset, bytes);
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Submits all recorded work; released buffers become reusable afterwards. */
  submit(): void {
    this.check();
    this.endPass();
    if (this.encoder) {
      const afterSubmit = this.profiler?.resolve(this.encoder);
      this.device.queue.submit([this.encoder.finish()]);
      afterSubmit?.();
      this.encoder = null;
      this.submits++;
    }
    this.dispatches = 0;
    this.pool.onSubmit();
  }

  /**
   * Starts timing every dispatch by kernel name (needs the adapter's timestamp-query feature);
   * `await ctx.stopProfiling()` returns the totals, slowest first.
   */
  startProfiling(): void {
    if (!this.timestamps) throw new GpuError('profiling needs the timestamp-query feature, which this adapter does not offer');
    this.submit();
    this.profiler ??= new KernelProfiler(this.device);
    this.profiler.reset();
  }

  async stopProfiling(): Promise<KernelTime[]> {
    const p = this.profiler;
    if (!p) return [];
    this.submit();
    this.profiler = null;
    const times = await p.report();
    p.destroy();
    return times;
  }

  /** Waits until the GPU has finished everything submitted so far. */
  async sync(): Promise<void> {
    this.submit();
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  /** Copies `bytes` bytes of a buffer back to the CPU. */
  async read(buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    this.check();
    const padded = Math.ceil(bytes / 4) * 4;
    const staging = this.pool.acquire(padded, READBACK_USAGE);
    this.copyBuffer(buffer, offset, staging, 0, padded);
    this.submit();
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, padded);
    } catch (e) {
      this.check();
      throw e;
    }
    const out = staging.getMappedRange(0, padded).slice(0, bytes);
    staging.unmap();
    this.pool.release(staging);
    this.check();
    return out;
  }
}
