import type { DType, Tensor } from './tensor.js';

/** The few ops the autograd core needs, registered by src/ops so autograd does not import ops. */
export interface AutogradHooks {
  add(a: Tensor, b: Tensor): Tensor;
  onesLike(t: Tensor): Tensor;
  zerosLike(t: Tensor): Tensor;
  castTo(t: Tensor, dtype: DType): Tensor;
}

let registered: AutogradHooks | null = null;

export function registerAutogradHooks(h: AutogradHooks): void { registered = h; }

export function hooks(): AutogradHooks {
  if (!registered) throw new Error('cflens: internal: ops not loaded; import from "cflens" (src/index.ts) rather than src/autograd directly');
  return registered;
}
