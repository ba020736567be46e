// Cases and helpers shared by the attention test files.
import {
  backward, fromArray, grad, scaledDotProductAttention, sum, withFlags, zeros, type AttentionOptions, type FlagValues, type HostArray, type Tensor,
} from '../../src/index.js';
import type * as ref from '../../src/reference/index.ts';
import { randomArray } from '../helpers/gpu.js';

export const nd = (a: HostArray): ref.NDArray => ({ shape: [...a.shape], data: a.data });
export const f32 = (a: HostArray): ref.NDArray => ({ shape: [...a.shape], data: Float64Array.from(Float32Array.from(a.data)) });
export const up = (a: HostArray, requiresGrad = false): Tensor => fromArray(Float32Array.from(a.data), a.shape, { requiresGrad });
export const IMPLS = ['fused', 'unfused'] as const;

export interface Case {
  name: string;
  q: number[]; k: number[]; v: number[];
  causal?: boolean;
  scale?: number;
  mask?: { shape: number[]; kind: 'bool' | 'additive' };
}

/** A 0/1 keep-mask (every query keeps at least its first key) or an additive one in [-2, 1]. */
export function maskArray(shape: number[], kind: 'bool' | 'additive', seed: number): HostArray {
  const a = randomArray(shape, seed, kind === 'bool' ? 0 : -2, 1);
  if (kind === 'bool') {
    const lk = shape[shape.length - 1];
    a.data.forEach((x, i) => (a.data[i] = i % lk === 0 || x > 0.35 ? 1 : 0));
  }
  return a;
}

export const cases: Case[] = [
  { name: 'self [2, 3, 6, 8]', q: [2, 3, 6, 8], k: [2, 3, 6, 8], v: [2, 3, 6, 8] },
  { name: 'cross Lq 7, Lk 13, D 5', q: [2, 7, 5], k: [2, 13, 5], v: [2, 13, 5] },
  { name: 'cross Lq 7, Lk 13, D 8, Dv 3', q: [1, 2, 7, 8], k: [1, 2, 13, 8], v: [1, 2, 13, 3] },
  { name: 'cross D 40 (SD head size)', q: [1, 2, 7, 40], k: [1, 2, 13, 40], v: [1, 2, 13, 40] },
  { name: 'unbatched [5, 8] x [9, 8]', q: [5, 8], k: [9, 8], v: [9, 8] },
  { name: 'three batch dims, k/v broadcast over heads', q: [2, 2, 2, 5, 8], k: [2, 1, 2, 6, 8], v: [2, 1, 2, 6, 8] },
  { name: 'causal self', q: [1, 2, 11, 8], k: [1, 2, 11, 8], v: [1, 2, 11, 8], causal: true },
  { name: 'causal Lq 7 < Lk 13', q: [2, 7, 5], k: [2, 13, 5], v: [2, 13, 5], causal: true },
  { name: 'causal Lq 13 > Lk 7', q: [2, 13, 5], k: [2, 7, 5], v: [2, 7, 5], causal: true },
  { name: 'bool key-padding mask [B, 1, 1, Lk]', q: [2, 3, 7, 8], k: [2, 3, 13, 8], v: [2, 3, 13, 8], mask: { shape: [2, 1, 1, 13], kind: 'bool' } },
  { name: 'bool mask [B, 1, Lq, Lk] + causal', q: [2, 3, 9, 8], k: [2, 3, 9, 8], v: [2, 3, 9, 8], causal: true, mask: { shape: [2, 1, 9, 9], kind: 'bool' } },
  { name: 'additive mask [Lq, Lk] over batch and heads', q: [2, 2, 7, 5], k: [2, 2, 13, 5], v: [2, 2, 13, 5], mask: { shape: [7, 13], kind: 'additive' } },
  {
    name: 'additive mask [B, H, Lq, Lk], scale 0.3', q: [2, 2, 7, 8], k: [2, 2, 13, 8], v: [2, 2, 13, 8], scale: 0.3,
    mask: { shape: [2, 2, 7, 13], kind: 'additive' },
  },
];

export function inputsOf(c: Case, seed = 1): HostArray[] {
  return [randomArray(c.q, seed, -1.5, 1.5), randomArray(c.k, seed + 1, -1.5, 1.5), randomArray(c.v, seed + 2)];
}

export function optsOf(c: Case, mask: Tensor | undefined): AttentionOptions {
  return { causal: c.causal, scale: c.scale, mask, maskKind: c.mask?.kind };
}

export function refOpts(c: Case, mask: HostArray | undefined): ref.AttentionOptions {
  return { causal: c.causal, scale: c.scale, mask: mask && f32(mask), maskKind: c.mask?.kind };
}

/**
 * For precompileForFile: the fused forward and backward of attention at these shapes and options (under
 * `flags`), with gradients of all inputs and, with `split`, of q alone and of k, v alone (the separate
 * dQ and dK/dV kernels); `forwardOnly` stops after the forward.
 */
export function traceAttention(
  q: number[], k: number[], v: number[], o: AttentionOptions & { maskShape?: number[] } = {}, flags: Partial<FlagValues> = {},
  split = false, forwardOnly = false,
): void {
  withFlags(flags, () => {
    const [qt, kt, vt] = [zeros(q).requiresGrad_(), zeros(k).requiresGrad_(), zeros(v).requiresGrad_()];
    const mask = o.maskShape ? zeros(o.maskShape) : o.mask;
    const y = scaledDotProductAttention(qt, kt, vt, { ...o, mask, impl: 'fused' });
    if (forwardOnly) return;
    backward(sum(y));
    if (split) {
      grad(scaledDotProductAttention(qt, kt, vt, { ...o, mask, impl: 'fused' }), [qt], [zeros(y.shape)]);
      grad(scaledDotProductAttention(qt, kt, vt, { ...o, mask, impl: 'fused' }), [kt, vt], [zeros(y.shape)]);
    }
  });
}
