// f16 weights on the GPU: Module.to('f16') and fromPretrained(dir, { dtype: 'f16' }) halve the weight
// memory; layers compute in f32 from a per-call cast, input gradients still flow.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdamW, backward, cast, fromArray, ResNet, tidy, type GpuContext } from '../../src/index.js';
import { modelFixture, upload } from '../helpers/fixtures.js';
import { assertClose, randomArray, setupGpu } from '../helpers/gpu.js';

let ctx: GpuContext;
beforeAll(async () => { ctx = await setupGpu(); });
afterEach(() => { ctx.maxBindingOverride = null; });

const fx = modelFixture('resnet_A');

async function run(m: ResNet): Promise<{ y: Float32Array; gx: Float32Array }> {
  const x = upload(fx.get('x')).requiresGrad_();
  const y = m.forward(x);
  const out = (await y.toArray()) as Float32Array;
  tidy(() => backward(y, fromArray(Float32Array.from(randomArray(y.shape, 5).data), y.shape)));
  const gx = (await x.grad!.toArray()) as Float32Array;
  x.dispose();
  y.dispose();
  return { y: out, gx };
}

describe('f16 weights', () => {
  it('fromPretrained({ dtype: "f16" }) halves weight bytes and matches f32 within f16 rounding, gradients included', async () => {
    const before = ctx.pool.snapshot().liveBytes;
    const full = (await ResNet.fromPretrained(fx.dir)).eval();
    const fullBytes = ctx.pool.snapshot().liveBytes - before;
    const half = (await ResNet.fromPretrained(fx.dir, { dtype: 'f16' })).eval();
    const halfBytes = ctx.pool.snapshot().liveBytes - before - fullBytes;
    expect(halfBytes).toBeLessThan(0.6 * fullBytes);
    for (const [name, t] of half.namedParameters()) {
      expect(t.dtype, name).toBe('f16');
      expect(t.requiresGrad, name).toBe(false);
    }
    const a = await run(full);
    const b = await run(half);
    const scale = Math.max(...a.y.map(Math.abs));
    assertClose(b.y, a.y, { atol: 2e-2 * scale, rtol: 2e-2 }, 'logits');
    const gs = Math.max(...a.gx.map(Math.abs));
    assertClose(b.gx, a.gx, { atol: 3e-2 * gs, rtol: 3e-2 }, 'input gradient');
    expect(() => new AdamW(half.parameters(), { lr: 1e-3 })).toThrow(/f16 weights are frozen/);
    // and back: .to('f32') restores trainable f32 weights with the f16-rounded values
    half.to('f32');
    for (const [, t] of half.namedParameters()) expect(t.dtype).toBe('f32');
    const c = await run(half);
    assertClose(c.y, b.y, { atol: 1e-5, rtol: 1e-5 }, 'f32 copy of the f16 weights');
    full.dispose();
    half.dispose();
  });

  it('casts larger than one binding run range by range', async () => {
    const n = 5000;
    const data = Float32Array.from(randomArray([n], 9).data);
    const h = fromArray(data, [n], { dtype: 'f16' });
    const whole = await cast(h, 'f32').toArray();
    ctx.maxBindingOverride = 4096; // the f32 result is 20000 bytes
    const split = await cast(h, 'f32').toArray();
    const back = await cast(cast(h, 'f32'), 'f16').toArray();
    assertClose(split, whole, { atol: 0, rtol: 0 }, 'f16 → f32');
    assertClose(back, whole, { atol: 0, rtol: 0 }, 'f32 → f16 → f32');
    h.dispose();
  });
});
