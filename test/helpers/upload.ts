import { fromArray, type GpuContext, type HostArray, type Tensor } from '../../src/index.js';

export function uploadHost(ctx: GpuContext, a: HostArray): Tensor {
  return fromArray(Float32Array.from(a.data), a.shape, { ctx });
}
