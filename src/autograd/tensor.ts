import { halfBitsToFloat32 } from '../io/dtype.js';
import { gpu } from '../gpu/index.js';
import type { GpuContext } from '../gpu/context.js';
import { freeNode, type Node } from './node.js';
import { track } from './scope.js';
import { inBackward } from './backward-state.js';
import { Storage } from './storage.js';

export type DType = 'f32' | 'f16' | 'i32';
export const BYTES: Record<DType, number> = { f32: 4, f16: 2, i32: 4 };

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: readonly number[]): string { return `[${shape.join(', ')}]`; }

let nextTensorId = 0;

/**
 * A GPU-resident, contiguous, row-major array. Lifetime is explicit: `dispose()` releases the
 * caller's handle; the buffer is recycled once no recorded op still needs it.
 */
export class Tensor {
  readonly isTensor = true;
  readonly id = nextTensorId++;
  readonly shape: readonly number[];
  requiresGrad = false;
  /** Accumulated gradient of a leaf (or of a tensor that called retainGrad()). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, while its graph is alive. */
  node: Node | null = null;
  retainsGrad = false;
  name?: string;
  private refs = 1;
  private userDisposed = false;

  constructor(readonly storage: Storage, shape: readonly number[], readonly dtype: DType = 'f32') {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`cflens: invalid shape ${shapeStr(shape)}: sizes must be non-negative integers`);
    }
    this.shape = Object.freeze([...shape]);
    if (numelOf(shape) * BYTES[dtype] > storage.byteLength) {
      throw new Error(`cflens: internal: shape ${shapeStr(shape)} ${dtype} does not fit a ${storage.byteLength}-byte storage`);
    }
    track(this);
  }

  /** Allocates an uninitialised tensor on the context. */
  static empty(shape: readonly number[], dtype: DType = 'f32', ctx: GpuContext = gpu()): Tensor {
    const bytes = Math.max(4, numelOf(shape) * BYTES[dtype]);
    return new Tensor(new Storage(ctx, ctx.createBuffer(bytes), bytes), shape, dtype);
  }

  get ctx(): GpuContext { return this.storage.ctx; }
  get size(): number { return numelOf(this.shape); }
  get ndim(): number { return this.shape.length; }
  get isDisposed(): boolean { return this.userDisposed; }
  get isLeaf(): boolean { return this.node === null; }

  /** The GPU buffer; throws a clear error when the tensor was disposed. */
  get buffer(): GPUBuffer {
    this.assertAlive();
    return this.storage.buffer;
  }

  assertAlive(op?: string): void {
    // During backward a disposed handle may still be read: a recorded op holds its data.
    if (!this.storage.alive || (this.userDisposed && !inBackward())) {
      throw new Error(`cflens: ${op ? `${op}: ` : ''}tensor #${this.id}${this.name ? ` (${this.name})` : ''} of shape ${shapeStr(this.shape)} was disposed`);
    }
  }

  /** Internal: a recorded op holds this tensor. */
  retain(): this {
    this.refs++;
    return this;
  }

  /** Internal: drops one holder; at zero the buffer and the producing op's graph are released. */
  release(): void {
    if (--this.refs > 0) return;
    this.storage.release();
    if (this.node) {
      const n = this.node;
      this.node = null;
      freeNode(n);
    }
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** Releases the caller's handle. Safe to call twice. */
  dispose(): void {
    if (this.userDisposed) return;
    this.userDisposed = true;
    this.release();
  }

  /** Marks a leaf as trainable: backward() accumulates into `.grad`. */
  requiresGrad_(on = true): this {
    if (!this.isLeaf && !on) throw new Error('cflens: requiresGrad_(false) on a non-leaf tensor; use detach()');
    if (this.dtype === 'i32' && on) throw new Error('cflens: only floating-point tensors can require gradients');
    this.requiresGrad = on;
    return this;
  }

  /** Keeps `.grad` for this non-leaf tensor on the next backward(). */
  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }

  /** Same data, no history. Shares the buffer. */
  detach(): Tensor {
    this.assertAlive('detach');
    return new Tensor(this.storage.retain(), this.shape, this.dtype);
  }

  /** Reads the data back to the CPU. f16 values arrive as f32. */
  async toArray(): Promise<Float32Array | Int32Array> {
    this.assertAlive('toArray');
    if (this.dtype === 'f16') {
      const half = this.size === 0 ? new ArrayBuffer(0) : await this.ctx.read(this.storage.buffer, this.size * 2);
      return halfBitsToFloat32(new Uint16Array(half));
    }
    const bytes = this.size * BYTES[this.dtype];
    const data = bytes === 0 ? new ArrayBuffer(0) : await this.ctx.read(this.storage.buffer, bytes);
    return this.dtype === 'i32' ? new Int32Array(data) : new Float32Array(data);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`cflens: item() needs a one-element tensor, got shape ${shapeStr(this.shape)}`);
    return (await this.toArray())[0];
  }

  toString(): string {
    return `Tensor(#${this.id}, shape=${shapeStr(this.shape)}, dtype=${this.dtype}` +
      `${this.requiresGrad ? ', requiresGrad' : ''}${this.node ? `, op=${this.node.name}` : ''})`;
  }
}
