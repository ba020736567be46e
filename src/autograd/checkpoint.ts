import { backward } from './engine.js';
import { enableGrad, isGradEnabled, noGrad } from './grad-mode.js';
import { peekNodeId } from './node.js';
import { readsGradTensors, record } from './record.js';
import { tidy } from './scope.js';
import type { Tensor } from './tensor.js';

/**
 * Runs fn without keeping its activations; backward recomputes them. Tensors that fn reads and that
 * require grad must be leaves (parameters, whose `.grad` receives the gradient as in PyTorch) or be
 * passed in `inputs`.
 */
export function checkpoint(fn: (...xs: Tensor[]) => Tensor, ...inputs: Tensor[]): Tensor {
  if (!isGradEnabled()) return fn(...inputs);
  const [out, readsParams] = readsGradTensors(() => tidy(() => noGrad(() => fn(...inputs))));
  // Recorded even when no input requires grad, as long as fn read parameters that do.
  return record('checkpoint', inputs, out, (g) => {
    const firstNode = peekNodeId();
    const xs = inputs.map((x) => {
      const d = x.detach();
      d.requiresGrad = x.requiresGrad;
      return d;
    });
    const y = enableGrad(() => fn(...xs));
    for (const t of outerTensorsNeedingGrad(y, firstNode)) {
      throw new Error(`cflens: checkpoint: fn reads ${t.toString()}, which requires grad and is not a leaf; pass it as one of checkpoint's inputs`);
    }
    if (y.requiresGrad) backward(y, g);
    return xs.map((x) => {
      const gx = x.grad;
      x.grad = null; // hand the gradient to the engine before the detached copies are disposed
      return gx;
    });
  }, [], readsParams);
}

/** Non-leaf tensors recorded before the recomputation began that its graph reaches. */
function* outerTensorsNeedingGrad(y: Tensor, firstNode: number): Generator<Tensor> {
  const seen = new Set<Tensor>();
  const stack = [y];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t) || !t.node) continue;
    seen.add(t);
    if (t.node.id < firstNode) {
      yield t;
      continue;
    }
    for (const i of t.node.inputs) if (i.requiresGrad) stack.push(i);
  }
}
