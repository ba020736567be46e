/** Compute pipelines keyed by WGSL source, entry point and override constants. */
export class PipelineCache {
  private pipelines = new Map<string, GPUComputePipeline>();
  private modules = new Map<string, GPUShaderModule>();
  private inflight = new Map<string, Promise<GPUComputePipeline>>();
  compiled = 0;

  constructor(private device: GPUDevice) {}

  private key(code: string, entry: string, constants?: Record<string, number>): string {
    return `${entry}|${constants ? JSON.stringify(constants) : ''}|${code}`;
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

  get(code: string, entry = 'main', constants?: Record<string, number>): GPUComputePipeline {
    const k = this.key(code, entry, constants);
    let p = this.pipelines.get(k);
    if (!p) {
      p = this.device.createComputePipeline(this.descriptor(code, entry, constants));
      this.pipelines.set(k, p);
      this.compiled++;
    }
    return p;
  }

  /** Compiles without blocking the caller; later `get` calls with the same key hit the cache. */
  getAsync(code: string, entry = 'main', constants?: Record<string, number>): Promise<GPUComputePipeline> {
    const k = this.key(code, entry, constants);
    const hit = this.pipelines.get(k);
    if (hit) return Promise.resolve(hit);
    let pending = this.inflight.get(k);
    if (!pending) {
      pending = this.device.createComputePipelineAsync(this.descriptor(code, entry, constants)).then((p) => {
        this.pipelines.set(k, p);
        this.inflight.delete(k);
        this.compiled++;
        return p;
      });
      this.inflight.set(k, pending);
    }
    return pending;
  }

  get size(): number { return this.pipelines.size; }
}
