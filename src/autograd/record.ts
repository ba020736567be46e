import { isGradEnabled } from './grad-mode.js';
import { newNodeId, type Vjp } from './node.js';
import type { Tensor } from './tensor.js';

/**
 * Puts an op on the tape when recording is on and an input requires grad. The node holds its
 * inputs (and `saved`) until backward frees the graph or the output is released.
 * `saved` must not contain `out`: vjps read the output through their closure.
 */
export function record(name: string, inputs: readonly Tensor[], out: Tensor, vjp: Vjp, saved: readonly Tensor[] = []): Tensor {
  if (!isGradEnabled() || !inputs.some((t) => t.requiresGrad)) return out;
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
