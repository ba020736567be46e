// Method-style calls on Tensor (x.add(y).sum()), installed onto the prototype by the ops layer.
import { backward, type BackwardOptions } from '../autograd/engine.js';
import { Tensor, type DType } from '../autograd/tensor.js';
import { cast } from './cast.js';
import * as ew from './elementwise.js';
import * as red from './reduce.js';
import * as sh from './shape.js';
import type { TensorLike } from './util.js';
import * as gat from './gather.js';
import * as smx from './softmax.js';
import * as mmo from './matmul.js';

type Axes = number | readonly number[] | undefined;

declare module '../autograd/tensor.js' {
  interface Tensor {
    add(b: TensorLike): Tensor;
    sub(b: TensorLike): Tensor;
    mul(b: TensorLike): Tensor;
    div(b: TensorLike): Tensor;
    pow(b: TensorLike): Tensor;
    maximum(b: TensorLike): Tensor;
    minimum(b: TensorLike): Tensor;
    eq(b: TensorLike): Tensor;
    ne(b: TensorLike): Tensor;
    lt(b: TensorLike): Tensor;
    le(b: TensorLike): Tensor;
    gt(b: TensorLike): Tensor;
    ge(b: TensorLike): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    abs(): Tensor;
    sin(): Tensor;
    cos(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    sign(): Tensor;
    square(): Tensor;
    reciprocal(): Tensor;
    clamp(min?: number, max?: number): Tensor;
    sum(axes?: Axes, keepdim?: boolean): Tensor;
    mean(axes?: Axes, keepdim?: boolean): Tensor;
    max(axes?: Axes, keepdim?: boolean): Tensor;
    min(axes?: Axes, keepdim?: boolean): Tensor;
    logsumexp(axes?: Axes, keepdim?: boolean): Tensor;
    var(axes?: Axes, opts?: { keepdim?: boolean; correction?: number }): Tensor;
    reshape(shape: readonly number[]): Tensor;
    view(shape: readonly number[]): Tensor;
    flatten(start?: number, end?: number): Tensor;
    squeeze(axes?: number | readonly number[]): Tensor;
    unsqueeze(axis: number): Tensor;
    permute(dims: readonly number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    slice(specs: readonly sh.SliceSpec[]): Tensor;
    narrow(axis: number, start: number, length: number): Tensor;
    broadcastTo(shape: readonly number[]): Tensor;
    expand(shape: readonly number[]): Tensor;
    pad(pads: readonly number[], value?: number): Tensor;
    clone(): Tensor;
    cast(dtype: DType): Tensor;
    float(): Tensor;
    half(): Tensor;
    int(): Tensor;
    backward(grad?: Tensor, opts?: BackwardOptions): void;
  }
}

const P = Tensor.prototype;
const binaries = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
for (const name of binaries) {
  const f = ew[name];
  P[name] = function (this: Tensor, b: TensorLike) { return f(this, b); };
}
const unaries = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'sin', 'cos', 'tanh', 'sigmoid', 'relu', 'sign', 'square', 'reciprocal'] as const;
for (const name of unaries) {
  const f = ew[name];
  P[name] = function (this: Tensor) { return f(this); };
}
P.clamp = function (min, max) { return ew.clamp(this, min, max); };
P.sum = function (axes, keepdim) { return red.sum(this, axes, keepdim); };
P.mean = function (axes, keepdim) { return red.mean(this, axes, keepdim); };
P.max = function (axes, keepdim) { return red.max(this, axes, keepdim); };
P.min = function (axes, keepdim) { return red.min(this, axes, keepdim); };
P.logsumexp = function (axes, keepdim) { return red.logsumexp(this, axes, keepdim); };
P.var = function (axes, opts) { return red.variance(this, axes, opts); };
P.reshape = function (shape) { return sh.reshape(this, shape); };
P.view = P.reshape;
P.flatten = function (start, end) { return sh.flatten(this, start, end); };
P.squeeze = function (axes) { return sh.squeeze(this, axes); };
P.unsqueeze = function (axis) { return sh.unsqueeze(this, axis); };
P.permute = function (dims) { return sh.permute(this, dims); };
P.transpose = function (d0, d1) { return sh.transpose(this, d0, d1); };
P.slice = function (specs) { return sh.slice(this, specs); };
P.narrow = function (axis, start, length) { return sh.narrow(this, axis, start, length); };
P.broadcastTo = function (shape) { return sh.broadcastTo(this, shape); };
P.expand = P.broadcastTo;
P.pad = function (pads, value) { return sh.pad(this, pads, value); };
P.clone = function () { return sh.clone(this); };
P.cast = function (dtype) { return cast(this, dtype); };
P.float = function () { return cast(this, 'f32'); };
P.half = function () { return cast(this, 'f16'); };
P.int = function () { return cast(this, 'i32'); };
P.backward = function (grad, opts) { backward(this, grad, opts); };

declare module '../autograd/tensor.js' {
  interface Tensor {
    softmax(axis?: number): Tensor;
    logSoftmax(axis?: number): Tensor;
    gather(axis: number, index: Tensor): Tensor;
    indexSelect(axis: number, index: gat.IndexLike): Tensor;
  }
}
P.softmax = function (axis) { return smx.softmax(this, axis); };
P.logSoftmax = function (axis) { return smx.logSoftmax(this, axis); };
P.gather = function (axis, index) { return gat.gather(this, axis, index); };
P.indexSelect = function (axis, index) { return gat.indexSelect(this, axis, index); };

declare module '../autograd/tensor.js' {
  interface Tensor {
    matmul(b: Tensor): Tensor;
    mm(b: Tensor, opts?: { transA?: boolean; transB?: boolean }): Tensor;
  }
}
P.matmul = function (b) { return mmo.matmul(this, b); };
P.mm = function (b, opts) { return mmo.mm(this, b, opts); };
