// Per-kernel GPU time from timestamp queries: every dispatch gets its own compute pass whose
// beginning and end are timestamped, and the totals are grouped by kernel name. Profiling changes
// batching (one pass per dispatch), so use it to find where time goes, not for absolute figures.

const QUERIES_PER_SUBMIT = 2 * 256;

export interface KernelTime { name: string; calls: number; ms: number }

export class KernelProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private names: string[] = [];
  private readonly totals = new Map<string, { calls: number; ns: number }>();
  private readonly pending: Promise<void>[] = [];

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_SUBMIT });
    this.resolveBuffer = device.createBuffer({ size: QUERIES_PER_SUBMIT * 8, usage: 0x200 | 0x04 }); // QUERY_RESOLVE | COPY_SRC
  }

  /** True when the current batch has no free query slots (the caller submits first). */
  get full(): boolean { return this.names.length * 2 >= QUERIES_PER_SUBMIT; }

  /** Timestamp writes for the pass of the next dispatch, named `name`. */
  timestampWrites(name: string): GPUComputePassTimestampWrites {
    const i = this.names.length;
    this.names.push(name);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Records the resolve of this batch's queries into `encoder`; call just before submitting it. */
  resolve(encoder: GPUCommandEncoder): (() => void) | null {
    const names = this.names;
    if (!names.length) return null;
    this.names = [];
    const bytes = names.length * 16;
    const staging = this.device.createBuffer({ size: bytes, usage: 0x01 | 0x08 }); // MAP_READ | COPY_DST
    encoder.resolveQuerySet(this.querySet, 0, names.length * 2, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, staging, 0, bytes);
    return () => {
      this.pending.push(staging.mapAsync(1).then(() => {
        const t = new BigUint64Array(staging.getMappedRange());
        names.forEach((name, i) => {
          const e = this.totals.get(name) ?? { calls: 0, ns: 0 };
          e.calls++;
          e.ns += Math.max(0, Number(t[2 * i + 1] - t[2 * i]));
          this.totals.set(name, e);
        });
        staging.unmap();
        staging.destroy();
      }));
    };
  }

  /** Totals so far, slowest first (waits for outstanding readbacks). */
  async report(): Promise<KernelTime[]> {
    await Promise.all(this.pending.splice(0));
    return [...this.totals].map(([name, e]) => ({ name, calls: e.calls, ms: e.ns / 1e6 })).sort((a, b) => b.ms - a.ms);
  }

  reset(): void { this.totals.clear(); }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
  }
}

/** A table of kernel times, for printing. */
export function formatKernelTimes(times: readonly KernelTime[], top = 20): string {
  const total = times.reduce((a, t) => a + t.ms, 0);
  const rows = times.slice(0, top).map(
    (t) => `${t.ms.toFixed(1).padStart(10)} ms ${(100 * t.ms / (total || 1)).toFixed(1).padStart(5)}% ${String(t.calls).padStart(7)}×  ${t.name}`,
  );
  return [...rows, `${total.toFixed(1).padStart(10)} ms total`].join('\n');
}
