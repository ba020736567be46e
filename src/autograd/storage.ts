import type { GpuContext } from '../gpu/context.js';

/** A GPU buffer shared by a tensor and its views (reshape, detach); freed back to the pool at zero refs. */
export class Storage {
  private refs = 1;
  constructor(readonly ctx: GpuContext, private _buffer: GPUBuffer | null, readonly byteLength: number) {}

  get buffer(): GPUBuffer {
    if (!this._buffer) throw new Error('cflens: internal: storage used after free');
    return this._buffer;
  }

  get alive(): boolean { return this._buffer !== null; }

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (--this.refs === 0 && this._buffer) {
      this.ctx.releaseBuffer(this._buffer);
      this._buffer = null;
    }
  }
}
