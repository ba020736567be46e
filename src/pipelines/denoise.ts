// The loop every sampler shares: x ← step(x, t) over the timesteps, each step checkpointed (its
// activations recomputed in backward, so memory stays one step deep) unless told otherwise.
import { checkpoint } from '../autograd/checkpoint.js';
import type { Tensor } from '../autograd/tensor.js';

export interface DenoiseOptions {
  /** Checkpoint step i (default: every step). */
  checkpointStep?: (i: number) => boolean;
  /** Tensors step i reads that gradients must reach through its checkpoint (its conditionings). */
  inputs?: (i: number) => Tensor[];
  /** Called after step i with the new latent (read-only). */
  onStep?: (i: number, t: number, x: Tensor) => void;
  /** Frees what step i made for itself (its noise), after it ran. */
  afterStep?: (i: number) => void;
}

/** Runs the steps from xT; intermediate latents are freed, xT is left to the caller. */
export function denoise(
  xT: Tensor, timesteps: readonly number[], step: (x: Tensor, t: number, i: number, inputs: Tensor[]) => Tensor, o: DenoiseOptions = {},
): Tensor {
  let x = xT;
  timesteps.forEach((t, i) => {
    const inputs = o.inputs?.(i) ?? [];
    const next = (o.checkpointStep?.(i) ?? true)
      ? checkpoint((xx: Tensor, ...rest: Tensor[]) => step(xx, t, i, rest), x, ...inputs)
      : step(x, t, i, inputs);
    if (x !== xT) x.dispose();
    o.afterStep?.(i);
    x = next;
    o.onStep?.(i, t, x);
  });
  return x;
}
