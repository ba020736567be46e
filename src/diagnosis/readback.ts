// The diagnosis reads results back at its edges: a tensor as one flat host array per item of its first axis.
import type { Tensor } from '../autograd/tensor.js';

/** t [N, ...] read back as N flat f32 arrays. */
export async function readItems(t: Tensor): Promise<Float32Array[]> {
  const data = Float32Array.from(await t.toArray());
  const per = t.size / t.shape[0];
  return Array.from({ length: t.shape[0] }, (_, n) => data.slice(n * per, (n + 1) * per));
}
