import { noGrad } from '../autograd/grad-mode.js';
import { keep, tidy } from '../autograd/scope.js';
import { Tensor } from '../autograd/tensor.js';
import { full, zerosLike } from '../ops/creation.js';
import { add, div, minimum, mul, sqrt } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { optimizerStep, projectKernel, type OptimHyper } from '../ops/kernels/optim.js';

const FLAG_DECOUPLED = 1;
const FLAG_NESTEROV = 2;
const FLAG_MAXIMIZE = 4;
const FLAG_FIRST = 8;

function state(p: Tensor): Tensor {
  return keep(noGrad(() => zerosLike(p)));
}

/** Base class: a list of parameters, their state tensors, and zeroGrad. */
export abstract class Optimizer {
  protected stepCount = 0;
  // Unused state slots bind these; WebGPU forbids two writable bindings of one buffer.
  protected readonly unused: [Tensor, Tensor];
  constructor(readonly params: Tensor[]) {
    for (const p of params) {
      if (!p.isLeaf) throw new Error(`cflens: optimiser: ${p.toString()} is not a leaf tensor`);
      if (p.dtype !== 'f32') throw new Error(`cflens: optimiser: ${p.toString()} is ${p.dtype}; f16 weights are frozen (train the model after .to('f32'))`);
    }
    const ctx = params[0]?.ctx;
    this.unused = [keep(full([1], 0, { ctx })), keep(full([1], 0, { ctx }))];
  }

  /** Drops gradients (PyTorch's set_to_none). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  abstract step(): void;

  /** The state tensors in a fixed order (checkpoints restore them with loadState). */
  stateTensors(): Tensor[] { return []; }

  get steps(): number { return this.stepCount; }

  /** Restores a checkpoint: the step count and the values of stateTensors(), in order. */
  loadState(steps: number, values: readonly ArrayLike<number>[]): void {
    const own = this.stateTensors();
    if (values.length !== own.length) throw new Error(`cflens: optimiser checkpoint has ${values.length} state tensors, this optimiser ${own.length}`);
    own.forEach((t, i) => {
      if (values[i].length !== t.size) throw new Error(`cflens: optimiser checkpoint state ${i} has ${values[i].length} values, expected ${t.size}`);
      t.ctx.overwrite(t.buffer, Float32Array.from(values[i]));
    });
    this.stepCount = steps;
  }

  protected update(mode: number, p: Tensor, m: Tensor, v: Tensor, hyper: OptimHyper): void {
    if (p.grad) optimizerStep(mode, p, p.grad, m, v, hyper);
  }

  dispose(): void {
    for (const t of this.unused) t.dispose();
  }
}

export interface SGDOptions { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean; maximize?: boolean }

/** SGD with momentum, as torch.optim.SGD. */
export class SGD extends Optimizer {
  private buf: Tensor[];
  constructor(params: Tensor[], readonly opts: SGDOptions) {
    super(params);
    this.buf = (opts.momentum ?? 0) ? params.map(state) : [];
  }

  step(): void {
    const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false, maximize = false } = this.opts;
    const flags = (nesterov ? FLAG_NESTEROV : 0) | (maximize ? FLAG_MAXIMIZE : 0) | (this.stepCount === 0 ? FLAG_FIRST : 0);
    this.params.forEach((p, i) => {
      const m = momentum ? this.buf[i] : this.unused[0];
      this.update(0, p, m, this.unused[1], { lr, b1: momentum, b2: dampening, eps: 0, weightDecay, bc1: 0, bc2: 0, flags });
    });
    this.stepCount++;
  }

  override stateTensors(): Tensor[] { return [...this.buf]; }

  override dispose(): void {
    for (const t of this.buf) t.dispose();
    super.dispose();
  }
}

export interface AdamOptions { lr: number; betas?: [number, number]; eps?: number; weightDecay?: number; maximize?: boolean }

/** Adam (L2 weight decay in the gradient), as torch.optim.Adam. */
export class Adam extends Optimizer {
  protected m: Tensor[];
  protected v: Tensor[];
  protected decoupled = false;
  constructor(params: Tensor[], readonly opts: AdamOptions) {
    super(params);
    this.m = params.map(state);
    this.v = params.map(state);
  }

  step(): void {
    const { lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay = this.decoupled ? 1e-2 : 0, maximize = false } = this.opts;
    this.stepCount++;
    const bc1 = 1 - betas[0] ** this.stepCount;
    const bc2 = 1 - betas[1] ** this.stepCount;
    const flags = (this.decoupled ? FLAG_DECOUPLED : 0) | (maximize ? FLAG_MAXIMIZE : 0);
    this.params.forEach((p, i) => {
      this.update(1, p, this.m[i], this.v[i], { lr, b1: betas[0], b2: betas[1], eps, weightDecay, bc1, bc2, flags });
    });
  }

  override stateTensors(): Tensor[] { return [...this.m, ...this.v]; }

  override dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
    super.dispose();
  }
}

/** AdamW: decoupled weight decay (default 0.01), as torch.optim.AdamW. */
export class AdamW extends Adam {
  constructor(params: Tensor[], opts: AdamOptions) {
    super(params, opts);
    this.decoupled = true;
  }
}

/** Signed-gradient steps (PGD / FGSM): p -= lr·sign(g) (ascent with maximize). */
export class SignSGD extends Optimizer {
  constructor(params: Tensor[], readonly opts: { lr: number; maximize?: boolean }) {
    super(params);
  }

  step(): void {
    const flags = this.opts.maximize ? FLAG_MAXIMIZE : 0;
    const hyper = { lr: this.opts.lr, b1: 0, b2: 0, eps: 0, weightDecay: 0, bc1: 0, bc2: 0, flags };
    for (const p of this.params) this.update(2, p, this.unused[0], this.unused[1], hyper);
    this.stepCount++;
  }

}

/**
 * In place: ema ← decay·ema + (1 − decay)·param for every pair, one fused launch each (the weights a
 * training run ships; three elementwise launches and a copy per parameter before).
 */
export function emaUpdate(ema: readonly Tensor[], params: readonly Tensor[], decay: number): void {
  if (ema.length !== params.length) throw new Error(`cflens: emaUpdate: ${ema.length} averages for ${params.length} parameters`);
  if (!params.length) return;
  const hyper = { lr: 0, b1: decay, b2: 0, eps: 0, weightDecay: 0, bc1: 0, bc2: 0, flags: 0 };
  // The kernel's gradient and second-moment bindings are unused here; distinct buffers (WebGPU refuses a
  // writable binding aliased by another).
  const [g, v] = [full([1], 0, { ctx: params[0].ctx }), full([1], 0, { ctx: params[0].ctx })];
  params.forEach((p, i) => {
    if (ema[i].shape.join() !== p.shape.join()) throw new Error(`cflens: emaUpdate: average ${i} is [${ema[i].shape}], its parameter [${p.shape}]`);
    optimizerStep(3, p, g, ema[i], v, hyper);
  });
  g.dispose();
  v.dispose();
}

/**
 * In place: clamps to [lo, hi] and, with `center` and `radius`, projects onto the L∞ ball around it
 * (the PGD projection). For leaves being optimised; never for tensors a live graph still reads.
 */
export function projectInPlace(
  x: Tensor, { lo = -3.4e38, hi = 3.4e38, center, radius = 0 }: { lo?: number; hi?: number; center?: Tensor; radius?: number },
): void {
  if (center && center.shape.join() !== x.shape.join()) throw new Error('cflens: projectInPlace: center must have the shape of x');
  projectKernel(x, lo, hi, center ?? null, radius);
}

/**
 * Scales all gradients so their joint L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_).
 * Stays on the GPU: returns the norm before clipping as a 0-d tensor (no readback).
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number, eps = 1e-6): Tensor {
  return tidy(() =>
    noGrad(() => {
      const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
      const total = grads.reduce<Tensor>((acc, g) => add(acc, sum(mul(g, g))), full([], 0, { ctx: params[0].ctx }));
      const norm = sqrt(total);
      const scale = minimum(div(maxNorm, add(norm, eps)), 1);
      for (const p of params) {
        if (!p.grad) continue;
        const scaled = keep(mul(p.grad, scale));
        p.grad.dispose();
        p.grad = scaled;
      }
      return norm;
    }),
  );
}
