import { Tensor, numelOf, type DType } from '../autograd/tensor.js';
import { gpu } from '../gpu/index.js';
import type { GpuContext } from '../gpu/context.js';
import { fillBuffer, randomFill } from './kernels/fill.js';

export interface CreateOptions { requiresGrad?: boolean; ctx?: GpuContext }

function finish(t: Tensor, o?: CreateOptions): Tensor {
  if (o?.requiresGrad) t.requiresGrad_(true);
  return t;
}

function fillKernel(t: Tensor, start: number, step: number): void {
  fillBuffer(t.ctx, t.buffer, t.size, start, step);
}

export function full(shape: readonly number[], value: number, o?: CreateOptions): Tensor {
  const t = Tensor.empty(shape, 'f32', o?.ctx ?? gpu());
  fillKernel(t, value, 0);
  return finish(t, o);
}

export const zeros = (shape: readonly number[], o?: CreateOptions) => full(shape, 0, o);
export const ones = (shape: readonly number[], o?: CreateOptions) => full(shape, 1, o);
export const zerosLike = (t: Tensor, o?: CreateOptions) => full(t.shape, 0, { ctx: t.ctx, ...o });
export const onesLike = (t: Tensor, o?: CreateOptions) => full(t.shape, 1, { ctx: t.ctx, ...o });
export const fullLike = (t: Tensor, v: number, o?: CreateOptions) => full(t.shape, v, { ctx: t.ctx, ...o });

/** [start, start+step, ...) below `end`, like numpy.arange. */
export function arange(start: number, end?: number, step = 1, o?: CreateOptions): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0) throw new Error('cflens: arange: step must not be 0');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const t = Tensor.empty([n], 'f32', o?.ctx ?? gpu());
  fillKernel(t, start, step);
  return finish(t, o);
}

/** Uploads CPU data. Float arrays become f32 (or f16 with dtype 'f16'); Int32Array becomes i32. */
export function fromArray(data: ArrayLike<number>, shape?: readonly number[], o?: CreateOptions & { dtype?: DType }): Tensor {
  const dtype: DType = o?.dtype ?? (data instanceof Int32Array ? 'i32' : 'f32');
  const sh = shape ?? [data.length];
  if (numelOf(sh) !== data.length) throw new Error(`cflens: fromArray: ${data.length} values do not fill shape [${sh.join(', ')}]`);
  const ctx = o?.ctx ?? gpu();
  const t = Tensor.empty(sh, dtype, ctx);
  if (data.length) {
    let view: ArrayBufferView;
    if (dtype === 'i32') view = data instanceof Int32Array ? data : Int32Array.from(data);
    else if (dtype === 'f16') view = data instanceof Uint16Array ? data : float32ToHalfBits(data);
    else view = data instanceof Float32Array ? data : Float32Array.from(data);
    if (view.byteLength % 4 !== 0) {
      const padded = new Uint8Array(Math.ceil(view.byteLength / 4) * 4);
      padded.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
      view = padded;
    }
    ctx.writeBuffer(t.buffer, view);
  }
  return finish(t, o);
}

/** A tensor from (nested) JS numbers. */
export function tensor(values: number | NestedArray, o?: CreateOptions): Tensor {
  const shape: number[] = [];
  let v: unknown = values;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  const flat = (Array.isArray(values) ? (values as unknown[]).flat(Infinity) : [values]) as number[];
  return fromArray(flat, shape, o);
}
export type NestedArray = ReadonlyArray<number | NestedArray>;

let seedCounter = 0x5eed;
function nextSeed(): number {
  seedCounter = (Math.imul(seedCounter, 1103515245) + 12345) >>> 0;
  return seedCounter;
}

/** Seeds the generator used when rand/randn get no seed. */
export function manualSeed(seed: number): void { seedCounter = seed >>> 0; }

function random(shape: readonly number[], kind: 0 | 1, p0: number, p1: number, o?: CreateOptions & { seed?: number }): Tensor {
  const t = Tensor.empty(shape, 'f32', o?.ctx ?? gpu());
  const seed = o?.seed ?? nextSeed();
  randomFill(t, seed, kind, p0, p1);
  return finish(t, o);
}

/** Uniform in [low, high), generated on the GPU from (seed, element index). */
export function rand(shape: readonly number[], o?: CreateOptions & { seed?: number; low?: number; high?: number }): Tensor {
  return random(shape, 0, o?.low ?? 0, o?.high ?? 1, o);
}

/** Normal(mean, std), generated on the GPU from (seed, element index). */
export function randn(shape: readonly number[], o?: CreateOptions & { seed?: number; mean?: number; std?: number }): Tensor {
  return random(shape, 1, o?.mean ?? 0, o?.std ?? 1, o);
}

function float32ToHalfBits(data: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(data.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < data.length; i++) {
    f[0] = data[i];
    const x = u[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    let e = exp - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
    } else if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let h = mant >> shift;
      const rem = mant & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      if (rem > half || (rem === half && (h & 1))) h++;
      out[i] = sign | h;
    } else {
      let h = (e << 10) | (mant >> 13);
      const rem = mant & 0x1fff;
      if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
      out[i] = sign | h;
      e = 0;
    }
  }
  return out;
}
