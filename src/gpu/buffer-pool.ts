import { GpuLimitError } from './errors.js';

/** Rounds a byte size up to a size class: at most 25% waste, at least 256 bytes. */
export function sizeClass(bytes: number): number {
  const n = Math.max(256, Math.ceil(bytes / 4) * 4);
  const top = 2 ** Math.floor(Math.log2(n));
  const step = Math.max(256, top / 4);
  return Math.ceil(n / step) * step;
}

export interface PoolStats {
  /** Bytes held by buffers handed out and not yet released. */
  liveBytes: number;
  /** Highest liveBytes seen since the last resetPeak(). */
  peakLiveBytes: number;
  /** Bytes of buffers idle in the pool, ready for reuse. */
  pooledBytes: number;
  /** Bytes released but waiting for the next submit before they can be reused. */
  pendingBytes: number;
  liveBuffers: number;
  created: number;
  reused: number;
}

interface Entry { buffer: GPUBuffer; key: string; size: number }

/**
 * Recycles GPU buffers by (usage, size class). A released buffer only becomes reusable after the
 * commands that used it were submitted (`onSubmit`), because queue.writeBuffer runs before any
 * not-yet-submitted command.
 */
export class BufferPool {
  private free = new Map<string, GPUBuffer[]>();
  private pending: Entry[] = [];
  private info = new WeakMap<GPUBuffer, Entry>();
  private stats: PoolStats = { liveBytes: 0, peakLiveBytes: 0, pooledBytes: 0, pendingBytes: 0, liveBuffers: 0, created: 0, reused: 0 };

  constructor(private device: GPUDevice, private maxBufferSize: number) {}

  acquire(bytes: number, usage: GPUBufferUsageFlags): GPUBuffer {
    const size = sizeClass(bytes);
    if (size > this.maxBufferSize) throw new GpuLimitError('a buffer', bytes, 'maxBufferSize', this.maxBufferSize);
    const key = `${usage}:${size}`;
    const list = this.free.get(key);
    let buffer = list?.pop();
    if (buffer) {
      this.stats.pooledBytes -= size;
      this.stats.reused++;
    } else {
      buffer = this.device.createBuffer({ size, usage });
      this.stats.created++;
      this.info.set(buffer, { buffer, key, size });
    }
    this.stats.liveBytes += size;
    this.stats.liveBuffers++;
    if (this.stats.liveBytes > this.stats.peakLiveBytes) this.stats.peakLiveBytes = this.stats.liveBytes;
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const e = this.info.get(buffer);
    if (!e) throw new Error('cflens: BufferPool.release of a buffer the pool did not create');
    this.stats.liveBytes -= e.size;
    this.stats.liveBuffers--;
    this.stats.pendingBytes += e.size;
    this.pending.push(e);
  }

  /** Called right after queue.submit: released buffers become reusable. */
  onSubmit(): void {
    for (const e of this.pending) {
      let list = this.free.get(e.key);
      if (!list) this.free.set(e.key, (list = []));
      list.push(e.buffer);
      this.stats.pooledBytes += e.size;
    }
    this.stats.pendingBytes = 0;
    this.pending = [];
  }

  /** Destroys idle buffers (pending ones stay until submitted). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.stats.pooledBytes = 0;
  }

  resetPeak(): void { this.stats.peakLiveBytes = this.stats.liveBytes; }
  snapshot(): PoolStats { return { ...this.stats }; }
}
