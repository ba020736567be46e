// The diagnosis reads results back at its edges: a tensor as one flat host array per item of its first axis.
import type { Tensor } from '../autograd/tensor.js';

/** t [N, ...] read back as N flat f32 arrays. */
export async function readItems(t: Tensor): Promise<Float32Array[]> {
  const data = Float32Array.from(await t.toArray());
  const per = t.size / t.shape[0];
  return Array.from({ length: t.shape[0] }, (_, n) => data.slice(n * per, (n + 1) * per));
}

/**
 * A loss read back, or a stop naming where it went non-finite: a NaN step would otherwise poison the edits
 * silently and every later figure with them. The run's earlier reports stay (nothing is published).
 */
export function finiteLoss(value: number, where: string): number {
  if (Number.isFinite(value)) return value;
  throw new Error(
    `cflens: ${where}: the loss is ${value}. The target or the generator produced non-finite values (check their weights: ` +
    'cflens doctor, a fresh copy of the model folder), or the step size is too large for them (lower --lr)',
  );
}
