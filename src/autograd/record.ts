import { isGradEnabled } from './grad-mode.js';
import { newNodeId, type Vjp } from './node.js';
import type { Tensor } from './tensor.js';

/**
 * Puts an op on the tape when recording is on and an input requires grad. The node holds its
 * inputs (and `saved`) until backward frees the graph or the output is released.
 * `saved` must not contain `out`: vjps read the output through their closure.
 */
export function record(name: string, inputs: readonly Tensor[], out: Tensor, vjp: Vjp, saved: readonly Tensor[] = [], force = false): Tensor {
  const wanted = inputs.some((t) => t.requiresGrad);
  if (!isGradEnabled()) {
    if (wanted) skippedGradInput = true;
    return out;
  }
  if (!wanted && !force) return out;
  out.requiresGrad = true;
  out.node = {
    id: newNodeId(),
    name,
    inputs: inputs.map((t) => t.retain()),
    saved: saved.map((t) => t.retain()),
    vjp,
    freed: false,
  };
  return out;
}

let skippedGradInput = false;

/**
 * Runs fn and reports whether any op inside read a tensor requiring grad while recording was off
 * (checkpoint uses this to notice parameters captured by its function).
 */
export function readsGradTensors<T>(fn: () => T): [T, boolean] {
  const prev = skippedGradInput;
  skippedGradInput = false;
  try {
    const r = fn();
    return [r, skippedGradInput];
  } finally {
    skippedGradInput = prev || skippedGradInput;
  }
}

/**
 * The vjp of an op that has a fused backward kernel: the kernel when the backward pass is not itself
 * recorded, else the same formulas written with recorded ops (createGraph), so that gradients of
 * gradients exist. Every op with a fused backward chooses through here.
 */
export function fusedOrComposed<T>(fused: () => T, composed: () => T): T {
  return isGradEnabled() ? composed() : fused();
}
