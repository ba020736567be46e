// The dtype conversion kernel (shaders/cast.wgsl), split into ranges where a tensor passes one binding.
import { BYTES, type DType, type Tensor } from '../../autograd/tensor.js';
import { bindingChunks } from '../../gpu/kernel.js';
import { defineParams } from '../../gpu/wgsl.js';
import { grid1D, launch, shader } from '../util.js';

// f16 tensors are stored as packed pairs (array<u32>) so the kernels also compile without shader-f16.
const LOAD: Record<DType, string> = {
  f32: 'return src[i];',
  i32: 'return f32(src[i]);',
  f16: 'return unpack2x16float(src[i / 2u])[i % 2u];',
};
const SRC: Record<DType, string> = { f32: 'f32', i32: 'i32', f16: 'u32' };

/** cast.wgsl: n source elements. */
const CAST_PARAMS = defineParams('CastParams', { n: 'u32' });

/** Elements per range unit when a cast is split: 256-byte aligned in both f16 and f32. */
const CAST_UNIT = 128;

function storeCode(to: DType): [string, string] {
  if (to === 'f32') return ['f32', 'if (i < params.n) { dst[i] = load(i); }'];
  // Truncation toward zero, as torch's .int()/.long().
  if (to === 'i32') return ['i32', 'if (i < params.n) { dst[i] = i32(load(i)); }'];
  return ['u32', 'let j = 2u * i; if (j < params.n) { let hi = select(0.0, load(j + 1u), j + 1u < params.n); dst[i] = pack2x16float(vec2f(load(j), hi)); }'];
}

/** y (already allocated, another dtype) = x converted. */
export function castKernel(x: Tensor, y: Tensor): void {
  const to = y.dtype;
  const [dstType, store] = storeCode(to);
  const threads = to === 'f16' ? Math.ceil(x.size / 2) : x.size;
  if (x.size) {
    const code = shader('cast', { SRC: SRC[x.dtype], DST: dstType, LOAD: LOAD[x.dtype], STORE: store }, CAST_PARAMS);
    const chunks = bindingChunks(x.ctx, Math.ceil(x.size / CAST_UNIT), CAST_UNIT * 4);
    if (chunks.length === 1) launch(x.ctx, code, [x.buffer, y.buffer], CAST_PARAMS.pack({ n: x.size }), grid1D(threads, 256));
    else {
      // Larger than one binding: ranges of whole units, aligned for both 2- and 4-byte elements.
      for (const [u, k] of chunks) {
        const lo = u * CAST_UNIT;
        const n = Math.min(x.size - lo, k * CAST_UNIT);
        const part = (t: Tensor) => ({ buffer: t.buffer, offset: lo * BYTES[t.dtype], size: Math.ceil((n * BYTES[t.dtype]) / 4) * 4 });
        launch(x.ctx, code, [part(x), part(y)], CAST_PARAMS.pack({ n }), grid1D(to === 'f16' ? Math.ceil(n / 2) : n, 256));
      }
    }
  }
}
