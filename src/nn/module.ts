import { cast } from '../ops/cast.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { noGrad } from '../autograd/grad-mode.js';
import { fromArray } from '../ops/creation.js';
import { clone } from '../ops/shape.js';

export interface StateDictEntry { shape: readonly number[]; data: ArrayLike<number> }
export type StateDictSource = Map<string, Tensor | StateDictEntry> | Record<string, Tensor | StateDictEntry>;

export interface LoadReport { missing: string[]; unexpected: string[]; mismatched: string[] }

/** Thrown by a strict loadStateDict; lists every problem at once. */
export class StateDictError extends Error {
  constructor(readonly module: string, readonly report: LoadReport) {
    const parts: string[] = [];
    if (report.missing.length) parts.push(`missing keys: ${report.missing.join(', ')}`);
    if (report.unexpected.length) parts.push(`unexpected keys: ${report.unexpected.join(', ')}`);
    if (report.mismatched.length) parts.push(`shape mismatches: ${report.mismatched.join('; ')}`);
    super(`cflens: loadStateDict into ${module}: ${parts.join(' | ')}`);
    this.name = 'StateDictError';
  }
}

/**
 * A PyTorch-style module: parameters, buffers (non-trainable state such as BatchNorm running stats)
 * and child modules, named with dotted paths (`down_blocks.0.resnets.1.conv1.weight`).
 */
export abstract class Module {
  training = true;
  private readonly _params = new Map<string, Tensor | null>();
  private readonly _buffers = new Map<string, Tensor | null>();
  private readonly _children = new Map<string, Module>();

  protected param(name: string, t: Tensor | null): Tensor {
    if (t) t.requiresGrad_(true);
    this._params.set(name, t);
    return t as Tensor;
  }

  protected buffer(name: string, t: Tensor | null): Tensor {
    this._buffers.set(name, t);
    return t as Tensor;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this._children.set(name, m);
    return m;
  }

  /** Replaces a registered parameter or buffer (the old tensor is disposed). */
  setTensor(name: string, t: Tensor): void {
    const map = this._params.has(name) ? this._params : this._buffers.has(name) ? this._buffers : null;
    if (!map) throw new Error(`cflens: ${this.constructor.name} has no parameter or buffer '${name}'`);
    const old = map.get(name);
    if (old && old !== t) old.dispose();
    if (map === this._params) t.requiresGrad_(true);
    map.set(name, t);
    (this as unknown as Record<string, unknown>)[name] = t;
  }

  get(name: string): Tensor | null {
    return this._params.get(name) ?? this._buffers.get(name) ?? null;
  }

  *namedChildren(): Generator<[string, Module]> { yield* this._children; }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [n, c] of this._children) yield* c.namedModules(prefix ? `${prefix}.${n}` : n);
  }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, t] of this._params) if (t) yield [prefix ? `${prefix}.${n}` : n, t];
    for (const [n, c] of this._children) yield* c.namedParameters(prefix ? `${prefix}.${n}` : n);
  }

  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, t] of this._buffers) if (t) yield [prefix ? `${prefix}.${n}` : n, t];
    for (const [n, c] of this._children) yield* c.namedBuffers(prefix ? `${prefix}.${n}` : n);
  }

  parameters(): Tensor[] { return [...this.namedParameters()].map(([, t]) => t); }

  /** Parameters and buffers by dotted name, as torch's state_dict(). */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /** Replaces the parameter or buffer at a dotted path (used by streaming weight loaders). */
  setByPath(key: string, t: Tensor): void {
    const found = this.owner(key);
    if (!found) throw new Error(`cflens: ${this.constructor.name} has no parameter or buffer '${key}'`);
    found[0].setTensor(found[1], t);
  }

  private owner(key: string): [Module, string] | null {
    const parts = key.split('.');
    let m: Module | undefined = this;
    for (const p of parts.slice(0, -1)) {
      m = m._children.get(p);
      if (!m) return null;
    }
    const leaf = parts[parts.length - 1];
    return m._params.has(leaf) || m._buffers.has(leaf) ? [m, leaf] : null;
  }

  /**
   * Copies values into the module's tensors by name. Strict (default) refuses the whole load if a key
   * is missing or unexpected or a shape differs, listing all of them; nothing is changed then.
   */
  loadStateDict(source: StateDictSource, { strict = true }: { strict?: boolean } = {}): LoadReport {
    const entries = source instanceof Map ? [...source.entries()] : Object.entries(source);
    const own = this.stateDict();
    const report = compareStateDict(own, new Map(entries.map(([k, v]) => [k, v.shape])));
    if (strict) throwIfMismatched(this.constructor.name, report);
    for (const [key, value] of entries) {
      const target = own.get(key);
      if (!target || value.shape.join() !== target.shape.join()) continue;
      const [m, leaf] = this.owner(key)!;
      // A copy, as torch's load_state_dict: optimiser steps update parameters in place.
      const t = value instanceof Tensor ? noGrad(() => clone(value)) : fromArray(Float32Array.from(value.data), value.shape, { ctx: target.ctx });
      m.setTensor(leaf, t);
    }
    return report;
  }

  /**
   * Stores the floating-point parameters and buffers as f16 (half the memory) or back as f32. f16
   * weights are frozen: layers compute in f32 from a per-call cast; gradients still reach the inputs
   * (diagnosis), and optimisers refuse f16 parameters (train with .to('f32')).
   */
  to(dtype: 'f16' | 'f32'): this {
    for (const [name, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
      if (t.dtype === dtype || t.dtype === 'i32' || name.endsWith('num_batches_tracked')) continue;
      const c = noGrad(() => cast(t, dtype));
      this.setByPath(name, c);
      if (dtype === 'f16') c.requiresGrad_(false);
    }
    return this;
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this { return this.train(false); }

  /** Inference only: eval mode, and no parameter asks for a gradient (inputs and edits still get theirs). */
  freeze(): this {
    this.eval();
    for (const p of this.parameters()) p.requiresGrad_(false);
    return this;
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const [, t] of this.stateDict()) t.dispose();
  }

  numParameters(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }
}

/**
 * A module's state dict against incoming names and shapes: keys the module has and the source lacks
 * (except those `optional` allows), keys it does not have, and shapes that differ.
 */
export function compareStateDict(
  own: ReadonlyMap<string, Tensor>, incoming: ReadonlyMap<string, readonly number[]>, optional: (key: string) => boolean = () => false,
): LoadReport {
  const report: LoadReport = { missing: [], unexpected: [], mismatched: [] };
  for (const key of own.keys()) if (!incoming.has(key) && !optional(key)) report.missing.push(key);
  for (const [key, shape] of incoming) {
    const target = own.get(key);
    if (!target) report.unexpected.push(key);
    else if (shape.join() !== target.shape.join()) report.mismatched.push(`${key}: checkpoint ${shapeStr(shape)} vs model ${shapeStr(target.shape)}`);
  }
  return report;
}

/** A strict load's refusal: every problem of the report listed, nothing changed. */
export function throwIfMismatched(what: string, report: LoadReport): void {
  if (report.missing.length || report.unexpected.length || report.mismatched.length) throw new StateDictError(what, report);
}
