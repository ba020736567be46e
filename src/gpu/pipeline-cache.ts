/** One pipeline creation: what it was, how big, how long the driver took (wall clock, this thread). */
export interface CompileRecord {
  /** Kernel name as the profiler shows it (shader file or generator, plus variant). */
  name: string;
  /** What specialised this variant: filled template values and override constants. */
  variant: string;
  entry: string;
  wgslBytes: number;
  ms: number;
  /** Made ahead by getAsync (the time is from request to ready, overlapping other work). */
  async: boolean;
  /**
   * Set by compileKernels on CPU adapters: the pipeline's first run (one workgroup), which is where
   * lavapipe/llvmpipe compile to machine code — the real cost there, not `ms`.
   */
  firstRunMs?: number;
  /** The WGSL and override constants (kept by reference: the cache holds the same strings). */
  code: string;
  constants?: Record<string, number>;
}

export interface KernelLabel { name: string; variant: string }
const UNNAMED: KernelLabel = { name: 'inline', variant: '' };

export type CompileListener = (r: CompileRecord, cache: PipelineCache) => void;

/** Compute pipelines keyed by WGSL source, entry point and override constants. */
export class PipelineCache {
  private pipelines = new Map<string, GPUComputePipeline>();
  private modules = new Map<string, GPUShaderModule>();
  private inflight = new Map<string, Promise<GPUComputePipeline>>();
  /** Every creation in order (the compile benchmark and the CLI's progress read it). */
  readonly records: CompileRecord[] = [];
  private recordByKey = new Map<string, CompileRecord>();
  private listeners = new Set<CompileListener>();

  constructor(private device: GPUDevice) {}

  get compiled(): number { return this.records.length; }
  /** Total milliseconds spent creating pipelines synchronously. */
  get compileMs(): number { return this.records.reduce((s, r) => s + (r.async ? 0 : r.ms), 0); }

  /** Calls `fn` after each pipeline creation; returns the unsubscribe function. */
  onCompile(fn: CompileListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // Two levels, the WGSL source first: a launch passes the same source string object every time (kernel
  // generators and shader() cache them), whose hash V8 keeps, so a lookup never rehashes tens of KB.
  private readonly byCode = new Map<string, { id: number; keys: Map<string, string> }>();

  private key(code: string, entry: string, constants?: Record<string, number>): string {
    let c = this.byCode.get(code);
    if (!c) {
      c = { id: this.byCode.size, keys: new Map() };
      this.byCode.set(code, c);
    }
    const variant = constants ? `${entry}|${JSON.stringify(constants)}` : entry;
    let k = c.keys.get(variant);
    if (!k) {
      k = `${c.id}|${variant}`;
      c.keys.set(variant, k);
    }
    return k;
  }

  private module(code: string): GPUShaderModule {
    let m = this.modules.get(code);
    if (!m) {
      m = this.device.createShaderModule({ code });
      this.modules.set(code, m);
    }
    return m;
  }

  private descriptor(code: string, entry: string, constants?: Record<string, number>): GPUComputePipelineDescriptor {
    return { layout: 'auto', compute: { module: this.module(code), entryPoint: entry, constants } };
  }

  /** The creation record of a cached pipeline. */
  recordOf(code: string, entry = 'main', constants?: Record<string, number>): CompileRecord | undefined {
    return this.recordByKey.get(this.key(code, entry, constants));
  }

  private note(label: KernelLabel, entry: string, code: string, constants: Record<string, number> | undefined, ms: number, async: boolean): void {
    const variant = [label.variant, constants ? JSON.stringify(constants) : ''].filter(Boolean).join(' ');
    const r: CompileRecord = { name: label.name, variant, entry, wgslBytes: code.length, ms, async, code, constants };
    this.records.push(r);
    this.recordByKey.set(this.key(code, entry, constants), r);
    for (const fn of this.listeners) fn(r, this);
  }

  has(code: string, entry = 'main', constants?: Record<string, number>): boolean {
    return this.pipelines.has(this.key(code, entry, constants));
  }

  get(code: string, entry = 'main', constants?: Record<string, number>, label: KernelLabel = UNNAMED): GPUComputePipeline {
    const k = this.key(code, entry, constants);
    let p = this.pipelines.get(k);
    if (!p) {
      const t0 = performance.now();
      p = this.device.createComputePipeline(this.descriptor(code, entry, constants));
      this.pipelines.set(k, p);
      this.note(label, entry, code, constants, performance.now() - t0, false);
    }
    return p;
  }

  /** Compiles without blocking the caller; later `get` calls with the same key hit the cache. */
  getAsync(code: string, entry = 'main', constants?: Record<string, number>, label: KernelLabel = UNNAMED): Promise<GPUComputePipeline> {
    const k = this.key(code, entry, constants);
    const hit = this.pipelines.get(k);
    if (hit) return Promise.resolve(hit);
    let pending = this.inflight.get(k);
    if (!pending) {
      const t0 = performance.now();
      pending = this.device.createComputePipelineAsync(this.descriptor(code, entry, constants)).then((p) => {
        this.inflight.delete(k);
        if (!this.pipelines.has(k)) {
          this.pipelines.set(k, p);
          this.note(label, entry, code, constants, performance.now() - t0, true);
        }
        return this.pipelines.get(k)!;
      });
      this.inflight.set(k, pending);
    }
    return pending;
  }

  get size(): number { return this.pipelines.size; }
}
