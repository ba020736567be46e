// conv2d, convTranspose2d and the gradients torch.nn.grad names: argument checks, the geometry, the
// tape. The kernels (their choice, parameters, launches and generators) are in ./kernels/conv*.ts.
import { record } from '../autograd/record.js';
import { shapeStr, type Tensor } from '../autograd/tensor.js';
import { sum } from './reduce.js';
import { convBackwardDataKernel, convBackwardWeightKernel, convForwardKernel, type ConvGeom } from './kernels/conv.js';
import { assertFloat, sameCtx } from './util.js';

export {
  CONV_TILES, convBackwardDataKernel, convBackwardWeightKernel, convForwardKernel, type ConvAlgo, type ConvGeom, type TileConfig,
} from './kernels/conv.js';

// ---------------------------------------------------------------------------------------------
// Options and geometry (ConvGeom: ./kernels/conv-params.ts).

export interface Conv2dOptions {
  stride?: number | readonly [number, number];
  /** number, [h, w], or [top, bottom, left, right] (asymmetric). */
  padding?: number | readonly [number, number] | readonly [number, number, number, number];
  dilation?: number | readonly [number, number];
  groups?: number;
}

export interface ConvTranspose2dOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  outputPadding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
  groups?: number;
}

function pairOf(op: string, name: string, v: number | readonly number[] | undefined, dflt: number): [number, number] {
  const p: readonly number[] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : v;
  if (p.length !== 2 || !p.every((d) => Number.isInteger(d))) {
    throw new Error(`cflens: ${op}: ${name} must be an integer or a pair of integers, got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}

function positive(op: string, name: string, p: readonly number[]): void {
  if (p.some((d) => d < 1)) throw new Error(`cflens: ${op}: ${name} must be positive, got ${JSON.stringify(p)}`);
}

function fourPadding(op: string, p: Conv2dOptions['padding']): [number, number, number, number] {
  let r: readonly number[];
  if (p === undefined) r = [0, 0, 0, 0];
  else if (typeof p === 'number') r = [p, p, p, p];
  else if (p.length === 2) r = [p[0], p[0], p[1], p[1]];
  else if (p.length === 4) r = p;
  else throw new Error(`cflens: ${op}: padding must be a number, [h, w] or [top, bottom, left, right], got ${JSON.stringify(p)}`);
  if (!r.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`cflens: ${op}: padding must be non-negative integers, got ${JSON.stringify(p)}`);
  return [r[0], r[1], r[2], r[3]];
}

function expect4d(op: string, x: Tensor, w: Tensor): void {
  if (x.ndim !== 4 || w.ndim !== 4) {
    throw new Error(`cflens: ${op}: input ${shapeStr(x.shape)} and weight ${shapeStr(w.shape)} must both be 4-D (NCHW input, [out, in/groups, kh, kw] weight)`);
  }
}

function checkBias(op: string, b: Tensor | null | undefined, channels: number, x: Tensor, w: Tensor): void {
  if (!b) return;
  if (b.ndim !== 1 || b.shape[0] !== channels) {
    throw new Error(`cflens: ${op}: bias ${shapeStr(b.shape)} must be [${channels}] for input ${shapeStr(x.shape)} and weight ${shapeStr(w.shape)}`);
  }
}

function groupsOf(op: string, groups: number | undefined): number {
  const G = groups ?? 1;
  if (!Number.isInteger(G) || G < 1) throw new Error(`cflens: ${op}: groups must be a positive integer, got ${G}`);
  return G;
}

/** Validates conv2d arguments and returns its geometry; errors name the op and the shapes. */
export function conv2dGeom(xs: readonly number[], ws: readonly number[], opts: Conv2dOptions = {}): ConvGeom {
  const op = 'conv2d';
  const [B, C, H, W] = xs;
  const [Co, Cg, KH, KW] = ws;
  const G = groupsOf(op, opts.groups);
  const shapes = `input ${shapeStr(xs)} and weight ${shapeStr(ws)}`;
  if (C % G !== 0) throw new Error(`cflens: ${op}: ${shapes}: groups ${G} does not divide the ${C} input channels`);
  if (Co % G !== 0) throw new Error(`cflens: ${op}: ${shapes}: groups ${G} does not divide the ${Co} output channels`);
  if (Cg * G !== C) throw new Error(`cflens: ${op}: ${shapes}: the input has ${C} channels but the weight expects ${Cg * G} (${Cg} per group × groups ${G})`);
  const [sh, sw] = pairOf(op, 'stride', opts.stride, 1);
  const [dh, dw] = pairOf(op, 'dilation', opts.dilation, 1);
  positive(op, 'stride', [sh, sw]);
  positive(op, 'dilation', [dh, dw]);
  const [pt, pb, pl, pr] = fourPadding(op, opts.padding);
  const OH = Math.floor((H + pt + pb - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + pl + pr - dw * (KW - 1) - 1) / sw) + 1;
  if (OH <= 0 || OW <= 0 || KH < 1 || KW < 1) {
    throw new Error(`cflens: ${op}: ${shapes}: the output would be ${OH}x${OW} (kernel larger than the padded input)`);
  }
  return { B, C, H, W, Co, OH, OW, G, KH, KW, sh, sw, dh, dw, pt, pl };
}

/** Geometry of conv_transpose2d as the input-gradient of a conv2d from its output back to its input. */
export function convTranspose2dGeom(xs: readonly number[], ws: readonly number[], opts: ConvTranspose2dOptions = {}): ConvGeom {
  const op = 'convTranspose2d';
  const [B, Cin, Hin, Win] = xs;
  const [Cw, Cog, KH, KW] = ws;
  const G = groupsOf(op, opts.groups);
  const shapes = `input ${shapeStr(xs)} and weight ${shapeStr(ws)}`;
  if (Cw !== Cin) {
    throw new Error(`cflens: ${op}: ${shapes}: the input has ${Cin} channels but the weight's first axis is ${Cw} (weight is [in, out/groups, kh, kw])`);
  }
  if (Cin % G !== 0) throw new Error(`cflens: ${op}: ${shapes}: groups ${G} does not divide the ${Cin} input channels`);
  const [sh, sw] = pairOf(op, 'stride', opts.stride, 1);
  const [dh, dw] = pairOf(op, 'dilation', opts.dilation, 1);
  const [ph, pw] = pairOf(op, 'padding', opts.padding, 0);
  const [oph, opw] = pairOf(op, 'outputPadding', opts.outputPadding, 0);
  positive(op, 'stride', [sh, sw]);
  positive(op, 'dilation', [dh, dw]);
  if (ph < 0 || pw < 0 || oph < 0 || opw < 0) throw new Error(`cflens: ${op}: padding and outputPadding must be non-negative`);
  if ((oph >= sh && oph >= dh) || (opw >= sw && opw >= dw)) {
    throw new Error(
      `cflens: ${op}: outputPadding ${JSON.stringify([oph, opw])} must be smaller than either stride ${JSON.stringify([sh, sw])} ` +
      `or dilation ${JSON.stringify([dh, dw])}`,
    );
  }
  const H = (Hin - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1;
  const W = (Win - 1) * sw - 2 * pw + dw * (KW - 1) + opw + 1;
  if (H <= 0 || W <= 0) throw new Error(`cflens: ${op}: ${shapes}: the output would be ${H}x${W}`);
  // In conv2d terms: the transposed conv's output is "x" (C = Cog·G channels), its input is "y".
  return { B, C: Cog * G, H, W, Co: Cin, OH: Hin, OW: Win, G, KH, KW, sh, sw, dh, dw, pt: ph, pl: pw };
}

// ---------------------------------------------------------------------------------------------
// Differentiable ops. The three kernels are each other's vjps (all bilinear), so gradients of any
// order are again convolutions:
//   y  = F(x, w):    x̄ = D(ȳ, w),  w̄ = Wg(x, ȳ)
//   dx = D(dy, w):   dȳ = F(d̄x, w), w̄ = Wg(d̄x, dy)
//   dw = Wg(x, dy):  x̄ = D(dy, d̄w), dȳ = F(x, d̄w)

function biasGrad(b: Tensor | null, g: Tensor): Tensor | null {
  return b && b.requiresGrad ? sum(g, [0, 2, 3]) : null;
}

function convForward(x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeom): Tensor {
  const y = convForwardKernel(x, w, b, g);
  const inputs = b ? [x, w, b] : [x, w];
  return record('conv2d', inputs, y, (gy) => [
    x.requiresGrad ? convBackwardData(gy, w, null, g) : null,
    w.requiresGrad ? convBackwardWeight(x, gy, g) : null,
    biasGrad(b, gy),
  ]);
}

function convBackwardData(dy: Tensor, w: Tensor, b: Tensor | null, g: ConvGeom): Tensor {
  const dx = convBackwardDataKernel(dy, w, b, g);
  const inputs = b ? [dy, w, b] : [dy, w];
  return record('conv2dBackwardData', inputs, dx, (gx) => [
    dy.requiresGrad ? convForward(gx, w, null, g) : null,
    w.requiresGrad ? convBackwardWeight(gx, dy, g) : null,
    biasGrad(b, gx),
  ]);
}

function convBackwardWeight(x: Tensor, dy: Tensor, g: ConvGeom): Tensor {
  const dw = convBackwardWeightKernel(x, dy, g);
  return record('conv2dBackwardWeight', [x, dy], dw, (gw) => [
    x.requiresGrad ? convBackwardData(dy, gw, null, g) : null,
    dy.requiresGrad ? convForward(x, gw, null, g) : null,
  ]);
}

/**
 * The checks conv2d and convTranspose2d share: float tensors on one context, 4-D input and weight, the
 * geometry from `geom`, and a bias of `biasChannels(geometry)` channels.
 */
function checkedGeom<O>(
  op: string, x: Tensor, w: Tensor, b: Tensor | null | undefined, opts: O,
  geom: (xs: readonly number[], ws: readonly number[], opts: O) => ConvGeom, biasChannels: (g: ConvGeom) => number,
): ConvGeom {
  const tensors = b ? [x, w, b] : [x, w];
  assertFloat(op, ...tensors);
  sameCtx(op, ...tensors);
  expect4d(op, x, w);
  const g = geom(x.shape, w.shape, opts);
  checkBias(op, b, biasChannels(g), x, w);
  return g;
}

/** F.conv2d: cross-correlation of NCHW `x` with `w` [Co, C/groups, KH, KW], plus optional bias [Co]. */
export function conv2d(x: Tensor, w: Tensor, b?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  return convForward(x, w, b ?? null, checkedGeom('conv2d', x, w, b, opts, conv2dGeom, (g) => g.Co));
}

/** F.conv_transpose2d: NCHW `x` with `w` [C_in, C_out/groups, KH, KW], plus optional bias [C_out]. */
export function convTranspose2d(x: Tensor, w: Tensor, b?: Tensor | null, opts: ConvTranspose2dOptions = {}): Tensor {
  return convBackwardData(x, w, b ?? null, checkedGeom('convTranspose2d', x, w, b, opts, convTranspose2dGeom, (g) => g.C));
}

/** FLOPs (multiply-adds × 2) of one conv2d forward, for benchmarks. */
export function conv2dFlops(g: ConvGeom): number {
  return 2 * g.B * g.Co * g.OH * g.OW * (g.C / g.G) * g.KH * g.KW;
}

/**
 * The checks the torch.nn.grad functions share: `t` and `dy` float tensors on one context, then
 * `notFourD()` (what is not 4-D, or null), the conv2d geometry and the output gradient's shape.
 */
function gradGeom(
  op: string, t: Tensor, dy: Tensor, notFourD: () => string | null, xs: readonly number[], ws: readonly number[], opts: Conv2dOptions,
): ConvGeom {
  assertFloat(op, t, dy);
  sameCtx(op, t, dy);
  const bad = notFourD();
  if (bad) throw new Error(`cflens: ${op}: ${bad} must be 4-D`);
  const g = conv2dGeom(xs, ws, opts);
  const want = [g.B, g.Co, g.OH, g.OW];
  if (dy.ndim !== 4 || dy.shape.some((d, i) => d !== want[i])) {
    throw new Error(`cflens: ${op}: output gradient ${shapeStr(dy.shape)} must be ${shapeStr(want)} for this convolution`);
  }
  return g;
}

/**
 * torch.nn.grad.conv2d_input: the gradient of conv2d(x, w, opts) with respect to an input of shape
 * `xShape`, given the output gradient `dy`. Differentiable in dy and w.
 */
export function conv2dInputGrad(xShape: readonly number[], w: Tensor, dy: Tensor, opts: Conv2dOptions = {}): Tensor {
  const notFourD = () => (xShape.length !== 4 ? `input shape ${shapeStr(xShape)}` : null);
  return convBackwardData(dy, w, null, gradGeom('conv2dInputGrad', w, dy, notFourD, xShape, w.shape, opts));
}

/**
 * torch.nn.grad.conv2d_weight: the gradient of conv2d(x, w, opts) with respect to a weight of shape
 * `wShape`, given the output gradient `dy`. Differentiable in x and dy.
 */
export function conv2dWeightGrad(x: Tensor, wShape: readonly number[], dy: Tensor, opts: Conv2dOptions = {}): Tensor {
  const notFourD = () => (x.ndim !== 4 || wShape.length !== 4 ? `input ${shapeStr(x.shape)} and weight shape ${shapeStr(wShape)}` : null);
  return convBackwardWeight(x, dy, gradGeom('conv2dWeightGrad', x, dy, notFourD, x.shape, wShape, opts));
}
