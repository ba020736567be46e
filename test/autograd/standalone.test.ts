// The autograd core stands on its own: importing src/autograd (with src/gpu) and nothing from src/ops
// gives a working backward pass — no registration by other modules needed.
import { describe, expect, it } from 'vitest';
import { backward, grad, record, Tensor } from '../../src/autograd/index.js';
import { initGpu } from '../../src/gpu/index.js';

describe('src/autograd without src/ops', () => {
  it('backward seeds, accumulates and copies gradients with its own kernel; f16 reads back', async () => {
    const ctx = await initGpu();
    const x = Tensor.empty([1], 'f32', ctx);
    ctx.writeBuffer(x.buffer, Float32Array.of(3));
    x.requiresGrad_();
    // y = x used twice: d(y)/dx accumulates two incoming gradients of 1.
    const twice = (t: Tensor) => {
      const out = Tensor.empty([1], 'f32', ctx);
      ctx.copyBuffer(t.buffer, 0, out.buffer, 0, 4);
      return record('identity', [t, t], out, (g) => [g, g]);
    };
    const y = twice(x);
    backward(y);
    expect(Array.from(await x.grad!.toArray())).toEqual([2]);
    backward(twice(x));
    expect(Array.from(await x.grad!.toArray())).toEqual([4]);
    const [g] = grad(twice(x), [x]);
    expect(Array.from(await g!.toArray())).toEqual([2]);
    const h = Tensor.empty([3], 'f16', ctx);
    ctx.writeBuffer(h.buffer, Uint16Array.of(0x3c00, 0xc000, 0x3555, 0));
    expect(Array.from(await h.toArray())).toEqual([1, -2, Math.fround(0.333251953125)]);
  });
});
