import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../autograd/scope.js';
import { Tensor } from '../autograd/tensor.js';
import { gelu, quickGelu, silu } from '../ops/activation.js';
import { cast } from '../ops/cast.js';
import { conv2d, convTranspose2d } from '../ops/conv.js';
import { full, ones, rand, zeros } from '../ops/creation.js';
import { div, lt, mul, relu } from '../ops/elementwise.js';
import { embedding } from '../ops/embedding.js';
import { linear } from '../ops/matmul.js';
import { batchNorm2d, groupNorm, layerNorm } from '../ops/norm.js';
import { Module } from './module.js';

type Pair = number | [number, number];

export interface InitOptions {
  /** Seed of the parameter initialisation (default: the global generator, see manualSeed). */
  seed?: number;
}

/** PyTorch's default init for Linear/Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias. */
function uniformInit(shape: number[], fanIn: number, seed?: number): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return noGrad(() => rand(shape, { low: -bound, high: bound, seed }));
}

/** An f32 view of a weight for one call: f16 weights (Module.to('f16')) are cast, f32 ones pass through. */
export function asF32<T extends Tensor | null | undefined>(t: T): T {
  return (t && t.dtype === 'f16' ? cast(t, 'f32') : t) as T;
}

const seedFor = (o: InitOptions | undefined, k: number) => (o?.seed === undefined ? undefined : o.seed * 7919 + k);

export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, { bias = true, ...o }: { bias?: boolean } & InitOptions = {}) {
    super();
    this.weight = this.param('weight', uniformInit([outFeatures, inFeatures], inFeatures, seedFor(o, 1)));
    this.bias = this.param('bias', bias ? uniformInit([outFeatures], inFeatures, seedFor(o, 2)) : null);
  }
  forward(x: Tensor): Tensor { return tidy(() => linear(x, asF32(this.weight), asF32(this.bias) ?? undefined)); }
}

export interface ConvOptions extends InitOptions {
  stride?: Pair;
  padding?: number | [number, number] | [number, number, number, number];
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : v);

export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, readonly opts: ConvOptions = {}) {
    super();
    const [kh, kw] = pair(kernelSize);
    const groups = opts.groups ?? 1;
    if (inChannels % groups || outChannels % groups) {
      throw new Error(`cflens: Conv2d: groups ${groups} must divide in (${inChannels}) and out (${outChannels}) channels`);
    }
    const fanIn = (inChannels / groups) * kh * kw;
    this.weight = this.param('weight', uniformInit([outChannels, inChannels / groups, kh, kw], fanIn, seedFor(opts, 1)));
    this.bias = this.param('bias', opts.bias === false ? null : uniformInit([outChannels], fanIn, seedFor(opts, 2)));
  }
  forward(x: Tensor): Tensor {
    const { stride = 1, padding = 0, dilation = 1, groups = 1 } = this.opts;
    return tidy(() => conv2d(x, asF32(this.weight), asF32(this.bias) ?? undefined, { stride, padding, dilation, groups }));
  }
}

export class ConvTranspose2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, readonly opts: ConvOptions & { outputPadding?: Pair } = {}) {
    super();
    const [kh, kw] = pair(kernelSize);
    const groups = opts.groups ?? 1;
    const fanIn = (outChannels / groups) * kh * kw; // torch computes fan_in from weight dim 1
    this.weight = this.param('weight', uniformInit([inChannels, outChannels / groups, kh, kw], fanIn, seedFor(opts, 1)));
    this.bias = this.param('bias', opts.bias === false ? null : uniformInit([outChannels], fanIn, seedFor(opts, 2)));
  }
  forward(x: Tensor): Tensor {
    const { stride = 1, padding = 0, dilation = 1, groups = 1, outputPadding = 0 } = this.opts;
    return tidy(() => convTranspose2d(
      x, asF32(this.weight), asF32(this.bias) ?? undefined, { stride, padding: padding as Pair, dilation, groups, outputPadding },
    ));
  }
}

export class GroupNorm extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  constructor(readonly numGroups: number, readonly numChannels: number, { eps = 1e-5, affine = true }: { eps?: number; affine?: boolean } = {}) {
    super();
    this.eps = eps;
    this.weight = this.param('weight', affine ? ones([numChannels]) : null);
    this.bias = this.param('bias', affine ? zeros([numChannels]) : null);
  }
  readonly eps: number;
  forward(x: Tensor): Tensor { return tidy(() => groupNorm(x, this.numGroups, asF32(this.weight) ?? undefined, asF32(this.bias) ?? undefined, this.eps)); }
}

export class LayerNorm extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  readonly normalizedShape: number[];
  readonly eps: number;
  constructor(
    normalizedShape: number | number[],
    { eps = 1e-5, elementwiseAffine = true, bias = true }: { eps?: number; elementwiseAffine?: boolean; bias?: boolean } = {},
  ) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    this.eps = eps;
    this.weight = this.param('weight', elementwiseAffine ? ones(this.normalizedShape) : null);
    this.bias = this.param('bias', elementwiseAffine && bias ? zeros(this.normalizedShape) : null);
  }
  forward(x: Tensor): Tensor {
    return tidy(() => layerNorm(x, this.normalizedShape, asF32(this.weight) ?? undefined, asF32(this.bias) ?? undefined, this.eps));
  }
}

export class BatchNorm2d extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  running_mean: Tensor;
  running_var: Tensor;
  num_batches_tracked: Tensor;
  readonly eps: number;
  readonly momentum: number;
  constructor(readonly numFeatures: number, { eps = 1e-5, momentum = 0.1, affine = true }: { eps?: number; momentum?: number; affine?: boolean } = {}) {
    super();
    this.eps = eps;
    this.momentum = momentum;
    this.weight = this.param('weight', affine ? ones([numFeatures]) : null);
    this.bias = this.param('bias', affine ? zeros([numFeatures]) : null);
    this.running_mean = this.buffer('running_mean', zeros([numFeatures]));
    this.running_var = this.buffer('running_var', ones([numFeatures]));
    // torch stores an int64 counter; kept as f32 here so state dicts round-trip by name.
    this.num_batches_tracked = this.buffer('num_batches_tracked', full([], 0));
  }
  forward(x: Tensor): Tensor {
    if (this.training && this.running_mean.dtype === 'f16') {
      throw new Error("cflens: BatchNorm2d: f16 running statistics are frozen; train after .to('f32') or call .eval()");
    }
    return tidy(() => batchNorm2d(x, asF32(this.running_mean), asF32(this.running_var), asF32(this.weight) ?? undefined, asF32(this.bias) ?? undefined, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    }));
  }
}

export class Embedding extends Module {
  weight: Tensor;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, o: InitOptions = {}) {
    super();
    // torch initialises embeddings N(0, 1); a uniform with the same variance keeps this module dependency-free.
    this.weight = this.param('weight', noGrad(() => rand([numEmbeddings, embeddingDim], { low: -Math.sqrt(3), high: Math.sqrt(3), seed: seedFor(o, 1) })));
  }
  forward(indices: Tensor | number[]): Tensor { return tidy(() => embedding(asF32(this.weight), indices)); }
}

/** Inverted dropout in training, identity in eval. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
  }
  forward(x: Tensor, seed?: number): Tensor {
    if (!this.training || this.p === 0) return x;
    return tidy(() => div(mul(x, lt(rand(x.shape, { seed }), 1 - this.p)), 1 - this.p));
  }
}

export class SiLU extends Module { forward(x: Tensor): Tensor { return silu(x); } }
export class ReLU extends Module { forward(x: Tensor): Tensor { return relu(x); } }
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') { super(); }
  forward(x: Tensor): Tensor { return gelu(x, { approximate: this.approximate }); }
}
export class QuickGELU extends Module { forward(x: Tensor): Tensor { return quickGelu(x); } }
export class Identity extends Module { forward(x: Tensor): Tensor { return x; } }

interface Forward { forward(x: Tensor): Tensor }

/** Children named 0, 1, 2, ... as torch's Sequential/ModuleList. */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];
  constructor(modules: M[] = []) {
    super();
    for (const m of modules) this.push(m);
  }
  push(m: M): void {
    this.child(String(this.items.length), m);
    this.items.push(m);
  }
  get length(): number { return this.items.length; }
  at(i: number): M { return this.items[i]; }
  [Symbol.iterator](): Iterator<M> { return this.items[Symbol.iterator](); }
}

export class Sequential extends ModuleList<Module & Forward> {
  forward(x: Tensor): Tensor {
    let h = x;
    for (const m of this.items) {
      const next = m.forward(h);
      if (h !== x && next !== h) h.dispose();
      h = next;
    }
    return h;
  }
}
