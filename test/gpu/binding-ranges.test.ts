// Tensors larger than one binding (maxStorageBufferBindingSize) are bound in ranges by the ops that can
// split their work; the tests shrink the limit so tiny tensors take those paths.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdamW, backward, embedding, fromArray, full, GpuLimitError, withFlags, matmul, tidy, type GpuContext } from '../../src/index.js';
import { bindingChunks } from '../../src/gpu/kernel.js';
import { assertClose, randomArray, setupGpu } from '../helpers/gpu.js';

let ctx: GpuContext;
beforeAll(async () => { ctx = await setupGpu(); });
afterEach(() => { ctx.maxBindingOverride = null; });

describe('binding ranges', () => {
  it('bindingChunks covers every row once, with aligned offsets, within the limit', () => {
    ctx.maxBindingOverride = 1000;
    const chunks = bindingChunks(ctx, 97, 12);
    let next = 0;
    for (const [lo, n] of chunks) {
      expect(lo).toBe(next);
      expect(n * 12).toBeLessThanOrEqual(1000);
      expect((lo * 12) % ctx.bindingAlignment).toBe(0);
      next += n;
    }
    expect(next).toBe(97);
    expect(chunks.length).toBeGreaterThan(1);
    ctx.maxBindingOverride = 8;
    expect(() => bindingChunks(ctx, 4, 12)).toThrow(GpuLimitError);
  });

  it('embedding forward and backward over a table larger than one binding match the unsplit result', async () => {
    const rows = 300;
    const dim = 12;
    const w = randomArray([rows, dim], 3);
    const ids = [0, 299, 5, 150, 5, 77, 298, 1, 160];
    const run = async () => {
      const weight = fromArray(Float32Array.from(w.data), [rows, dim]).requiresGrad_();
      const out = tidy(() => embedding(weight, ids));
      const y = await out.toArray();
      const g = fromArray(Float32Array.from(randomArray(out.shape, 9).data), out.shape);
      backward(out, g);
      const dw = await weight.grad!.toArray();
      for (const t of [weight, out, g]) t.dispose();
      return { y, dw };
    };
    const whole = await run();
    ctx.maxBindingOverride = 1024; // the 14 400-byte table now needs 15 ranges
    expect(bindingChunks(ctx, rows, dim * 4).length).toBeGreaterThan(10);
    const split = await run();
    assertClose(split.y, whole.y, { atol: 0, rtol: 0 }, 'forward');
    assertClose(split.dw, whole.dw, { atol: 1e-7, rtol: 1e-6 }, 'weight gradient');
    // the atomic scatter-add backward, range by range too
    const atomic = await withFlags({ 'gather.deterministicLimit': 0 }, run);
    assertClose(atomic.dw, whole.dw, { atol: 1e-6, rtol: 1e-5 }, 'atomic weight gradient');
    // and against the definition
    for (let k = 0; k < ids.length; k++) for (let j = 0; j < dim; j++) expect(split.y[k * dim + j]).toBeCloseTo(w.data[ids[k] * dim + j], 6);
  });

  it('fill and an AdamW step on a tensor larger than one binding', async () => {
    const n = 5000;
    const make = () => {
      const p = full([n], 0.5).requiresGrad_();
      p.grad = fromArray(Float32Array.from(randomArray([n], 4).data), [n]);
      return p;
    };
    const step = async () => {
      const p = make();
      const opt = new AdamW([p], { lr: 0.1 });
      opt.step();
      opt.step();
      const v = await p.toArray();
      opt.dispose();
      p.grad?.dispose();
      p.dispose();
      return v;
    };
    const whole = await step();
    ctx.maxBindingOverride = 4096;
    const split = await step();
    assertClose(split, whole, { atol: 0, rtol: 0 }, 'adamw');
    const f = full([n], 2);
    expect(Array.from(await f.toArray()).every((x) => x === 2)).toBe(true);
    f.dispose();
  });

  it('an op that cannot split names the kernel and the limit', () => {
    const a = full([40, 40], 1);
    const b = full([40, 4], 1);
    ctx.maxBindingOverride = 4096; // a is 6400 bytes
    expect(() => matmul(a, b)).toThrow(/operand \d of 6400 bytes.*maxStorageBufferBindingSize is 4096/);
    ctx.maxBindingOverride = null;
    a.dispose();
    b.dispose();
  });
});
