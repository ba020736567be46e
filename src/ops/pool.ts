import { record } from '../autograd/record.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { mean } from './reduce.js';
import { assertFloat } from './util.js';
import { poolKernel, type PoolGeom } from './kernels/pool.js';

type Pair = number | readonly [number, number];

export interface AvgPool2dOptions {
  /** Count padded zeros in the divisor (default true, as PyTorch). */
  countIncludePad?: boolean;
  ceilMode?: boolean;
  divisorOverride?: number;
}

export interface MaxPool2dOptions {
  dilation?: Pair;
  ceilMode?: boolean;
}

function pairOf(op: string, name: string, v: Pair, x: Tensor): [number, number] {
  const p = typeof v === 'number' ? [v, v] : v;
  if (p.length !== 2 || !p.every((d) => Number.isInteger(d))) {
    throw new Error(`cflens: ${op}: ${name} must be an integer or a pair, got ${JSON.stringify(v)} (input ${shapeStr(x.shape)})`);
  }
  return [p[0], p[1]];
}

function expectNchw(op: string, x: Tensor): void {
  assertFloat(op, x);
  if (x.ndim !== 4) throw new Error(`cflens: ${op}: input ${shapeStr(x.shape)} must be 4-D (NCHW)`);
}

/** PyTorch's pooling_output_shape, with its ceil-mode rule that the last window starts inside the input. */
function pooledSize(size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let out = Math.floor((size + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (out - 1) * s >= size + p) out--;
  return out;
}

function geometry(op: string, x: Tensor, kernel: Pair, stride: Pair | undefined | null, padding: Pair, dilation: Pair, ceil: boolean): PoolGeom {
  expectNchw(op, x);
  const [kh, kw] = pairOf(op, 'kernel', kernel, x);
  const [sh, sw] = pairOf(op, 'stride', stride ?? kernel, x);
  const [ph, pw] = pairOf(op, 'padding', padding, x);
  const [dh, dw] = pairOf(op, 'dilation', dilation, x);
  if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || dh < 1 || dw < 1) {
    throw new Error(`cflens: ${op}: kernel, stride and dilation must be positive (input ${shapeStr(x.shape)})`);
  }
  if (ph < 0 || pw < 0 || ph > kh / 2 || pw > kw / 2) {
    throw new Error(
      `cflens: ${op}: padding ${JSON.stringify([ph, pw])} must be between 0 and half the kernel ${JSON.stringify([kh, kw])} (input ${shapeStr(x.shape)})`,
    );
  }
  const [N, C, H, W] = x.shape;
  const OH = pooledSize(H, kh, sh, ph, dh, ceil);
  const OW = pooledSize(W, kw, sw, pw, dw, ceil);
  if (OH <= 0 || OW <= 0) {
    throw new Error(`cflens: ${op}: input ${shapeStr(x.shape)} with kernel ${JSON.stringify([kh, kw])} gives an empty ${OH}x${OW} output`);
  }
  return { N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, countIncludePad: true, divisor: 0 };
}

const outShape = (g: PoolGeom) => [g.N, g.C, g.OH, g.OW];
const inShape = (g: PoolGeom) => [g.N, g.C, g.H, g.W];

// ---------------------------------------------------------------------------------------------
// Average pooling: forward and backward are each other's adjoints.

function avgForward(x: Tensor, g: PoolGeom): Tensor {
  const y = Tensor.empty(outShape(g), 'f32', x.ctx);
  poolKernel('avg', g, x, y, null);
  return record('avgPool2d', [x], y, (gy) => [avgBackward(gy, g)]);
}

function avgBackward(gy: Tensor, g: PoolGeom): Tensor {
  const gx = Tensor.empty(inShape(g), 'f32', gy.ctx);
  poolKernel('avgBackward', g, gy, gx, null);
  return record('avgPool2dBackward', [gy], gx, (gg) => [avgForward(gg, g)]);
}

/** F.avg_pool2d; stride defaults to the kernel. */
export function avgPool2d(x: Tensor, kernel: Pair, stride?: Pair | null, padding: Pair = 0, opts: AvgPool2dOptions = {}): Tensor {
  const g = geometry('avgPool2d', x, kernel, stride, padding, 1, opts.ceilMode ?? false);
  g.countIncludePad = opts.countIncludePad ?? true;
  if (opts.divisorOverride !== undefined) {
    if (!(opts.divisorOverride > 0)) throw new Error(`cflens: avgPool2d: divisorOverride must be positive, got ${opts.divisorOverride}`);
    g.divisor = opts.divisorOverride;
  }
  return avgForward(x, g);
}

// ---------------------------------------------------------------------------------------------
// Max pooling: the gradient goes to the first maximum of each window (PyTorch's tie rule). The
// backward (a scatter, computed as a gather) and the gather at the argmax are each other's adjoints.

function maxScatter(gy: Tensor, arg: Tensor, g: PoolGeom): Tensor {
  const gx = Tensor.empty(inShape(g), 'f32', gy.ctx);
  poolKernel('maxScatter', g, gy, gx, arg);
  return record('maxPool2dBackward', [gy], gx, (gg) => [maxGather(gg, arg, g)], [arg]);
}

function maxGather(gx: Tensor, arg: Tensor, g: PoolGeom): Tensor {
  const gy = Tensor.empty(outShape(g), 'f32', gx.ctx);
  poolKernel('maxGather', g, gx, gy, arg);
  return record('maxPool2dGather', [gx], gy, (gg) => [maxScatter(gg, arg, g)], [arg]);
}

/** F.max_pool2d; stride defaults to the kernel, padding acts as −inf. */
export function maxPool2d(x: Tensor, kernel: Pair, stride?: Pair | null, padding: Pair = 0, opts: MaxPool2dOptions = {}): Tensor {
  const { values, indices } = maxPool2dWithIndices(x, kernel, stride, padding, opts);
  indices.dispose(); // the recorded op (if any) holds it for backward
  return values;
}

/**
 * F.max_pool2d(..., return_indices=True): values and the i32 index (h·W + w within its plane) of the
 * maximum of each window. The caller disposes `indices`.
 */
export function maxPool2dWithIndices(
  x: Tensor, kernel: Pair, stride?: Pair | null, padding: Pair = 0, opts: MaxPool2dOptions = {},
): { values: Tensor; indices: Tensor } {
  const g = geometry('maxPool2d', x, kernel, stride, padding, opts.dilation ?? 1, opts.ceilMode ?? false);
  const y = Tensor.empty(outShape(g), 'f32', x.ctx);
  const arg = Tensor.empty(outShape(g), 'i32', x.ctx);
  poolKernel('max', g, x, y, arg);
  const values = record('maxPool2d', [x], y, (gy) => [maxScatter(gy, arg, g)], [arg]);
  return { values, indices: arg };
}

// ---------------------------------------------------------------------------------------------
// Adaptive average pooling: bin i covers [floor(i·H/OH), ceil((i+1)·H/OH)).

function adaptiveForward(x: Tensor, g: PoolGeom): Tensor {
  const y = Tensor.empty(outShape(g), 'f32', x.ctx);
  poolKernel('adaptive', g, x, y, null);
  return record('adaptiveAvgPool2d', [x], y, (gy) => [adaptiveBackward(gy, g)]);
}

function adaptiveBackward(gy: Tensor, g: PoolGeom): Tensor {
  const gx = Tensor.empty(inShape(g), 'f32', gy.ctx);
  poolKernel('adaptiveBackward', g, gy, gx, null);
  return record('adaptiveAvgPool2dBackward', [gy], gx, (gg) => [adaptiveForward(gg, g)]);
}

/** F.adaptive_avg_pool2d with output size [OH, OW] (a number means square). */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  const op = 'adaptiveAvgPool2d';
  expectNchw(op, x);
  const [OH, OW] = pairOf(op, 'outputSize', outputSize, x);
  if (OH < 1 || OW < 1) throw new Error(`cflens: ${op}: output size ${JSON.stringify([OH, OW])} must be positive (input ${shapeStr(x.shape)})`);
  const [N, C, H, W] = x.shape;
  if (H < 1 || W < 1) throw new Error(`cflens: ${op}: input ${shapeStr(x.shape)} has an empty plane`);
  if (OH === 1 && OW === 1) return mean(x, [2, 3], true); // one workgroup-wide reduction per plane
  const g: PoolGeom = { N, C, H, W, OH, OW, kh: 1, kw: 1, sh: 1, sw: 1, ph: 0, pw: 0, dh: 1, dw: 1, countIncludePad: true, divisor: 0 };
  return adaptiveForward(x, g);
}
