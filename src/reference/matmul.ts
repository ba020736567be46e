import { type NDArray, broadcastShapes, broadcastStrides, forEachBroadcast, nd } from './core.ts';
import { add } from './elementwise.ts';
import { transpose } from './shape.ts';

/**
 * torch.matmul: 1-D operands are promoted (a: prepend 1, b: append 1) and the added dim removed
 * afterwards; leading (batch) dims broadcast.
 */
export function matmul(a: NDArray, b: NDArray): NDArray {
  if (a.shape.length === 0 || b.shape.length === 0) throw new Error('matmul: operands must be at least 1-D');
  const aShape = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  const bShape = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  const [m, k] = aShape.slice(-2);
  const [k2, n] = bShape.slice(-2);
  if (k !== k2) {
    throw new Error(`matmul: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] do not align`);
  }
  const batch = broadcastShapes(aShape.slice(0, -2), bShape.slice(0, -2));
  // Batch strides, scaled to whole matrices.
  const aStrides = broadcastStrides(aShape.slice(0, -2), batch).map((s) => s * m * k);
  const bStrides = broadcastStrides(bShape.slice(0, -2), batch).map((s) => s * k * n);
  const out = nd([...batch, m, n]);
  forEachBroadcast(batch, [aStrides, bStrides], (bi, [ao, bo]) => {
    const oo = bi * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc += a.data[ao + i * k + p] * b.data[bo + p * n + j];
        out.data[oo + i * n + j] = acc;
      }
    }
  });
  const shape = [...batch];
  if (a.shape.length > 1) shape.push(m);
  if (b.shape.length > 1) shape.push(n);
  return nd(shape, out.data);
}

/** F.linear: x @ wᵀ + b with w of shape [out, in]. */
export function linear(x: NDArray, w: NDArray, b: NDArray | null = null): NDArray {
  const y = matmul(x, w.shape.length === 1 ? w : transpose(w, 0, 1));
  return b ? add(y, b) : y;
}
