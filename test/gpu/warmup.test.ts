import { describe, expect, it } from 'vitest';
import { backward, compileKernels, conv2d, fromArray, precompile, randn, sum, tanh, tidy, traceKernels, type Tensor } from '../../src/index.js';
import { setupGpu } from '../helpers/gpu.js';

/** A small computation with a forward and a backward: conv, tanh, sum. */
function step(x: Tensor, w: Tensor): Tensor {
  const y = sum(tanh(conv2d(x, w, null, { padding: 1 })));
  backward(y);
  return y;
}

describe('kernel warm-up', () => {
  it('a trace records the launches of forward and backward without creating or running a pipeline', async () => {
    const ctx = await setupGpu();
    const x = randn([1, 2, 6, 8], { seed: 3 }).requiresGrad_();
    const w = randn([3, 2, 3, 3], { seed: 4 }).requiresGrad_();
    const created = ctx.pipelines.size;
    const submits = ctx.submits;
    const uses = traceKernels(ctx, () => tidy(() => { step(x, w); }));
    expect(ctx.pipelines.size).toBe(created);
    expect(ctx.submits).toBe(submits);
    const names = uses.map((u) => u.label.name);
    expect(names.some((n) => n.startsWith('conv'))).toBe(true);
    expect(names.some((n) => n.startsWith('unary'))).toBe(true);
    // Each use knows the bytes of every binding (the meta words last) to bind scratch buffers of that size.
    for (const u of uses) expect(u.bindingBytes.length).toBeGreaterThan(0);
    expect(() => traceKernels(ctx, () => traceKernels(ctx, () => {}))).toThrow(/already running/);
    x.grad?.dispose();
    w.grad?.dispose();
    x.dispose();
    w.dispose();
  });

  it('compileKernels builds exactly the traced pipelines, with progress; the real run then creates none', async () => {
    const ctx = await setupGpu();
    const x = randn([2, 3, 5, 4], { seed: 5 }).requiresGrad_();
    const w = randn([4, 3, 3, 3], { seed: 6 }).requiresGrad_();
    const progress: number[] = [];
    const before = ctx.pipelines.size;
    const r = await precompile(ctx, () => tidy(() => { step(x, w); }), { onProgress: (p) => progress.push(p.done / p.total) });
    expect(r.compiled.length).toBe(ctx.pipelines.size - before);
    expect(r.compiled.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toBe(1);
    if (ctx.summary.isCpu) for (const c of r.compiled) expect(c.firstRunMs).toBeGreaterThanOrEqual(0);
    for (const t of [x, w, x.grad, w.grad]) t?.dispose();
    const after = ctx.pipelines.size;
    const x2 = randn([2, 3, 5, 4], { seed: 5 }).requiresGrad_();
    const w2 = randn([4, 3, 3, 3], { seed: 6 }).requiresGrad_();
    const y = step(x2, w2);
    const value = await y.item();
    expect(ctx.pipelines.size).toBe(after);
    expect(Number.isFinite(value)).toBe(true);
    expect((await x2.grad!.toArray()).some((v) => v !== 0)).toBe(true);
    for (const t of [x2, w2, y, x2.grad!, w2.grad!]) t.dispose();
    // Already built: nothing to do.
    const x3 = randn([2, 3, 5, 4], { seed: 5 }).requiresGrad_();
    const w3 = randn([4, 3, 3, 3], { seed: 6 }).requiresGrad_();
    expect((await compileKernels(ctx, traceKernels(ctx, () => tidy(() => { step(x3, w3); })))).compiled).toEqual([]);
    for (const t of [x3, w3, x3.grad, w3.grad]) t?.dispose();
  });

  it('the values computed after a warm-up equal those of a cold run', async () => {
    const ctx = await setupGpu();
    const data = Float32Array.from({ length: 48 }, (_, i) => Math.sin(i));
    const run = async () => {
      const x = fromArray(data, [1, 3, 4, 4]);
      const w = fromArray(Float32Array.from({ length: 27 }, (_, i) => Math.cos(i)), [1, 3, 3, 3]);
      const y = tidy(() => tanh(conv2d(x, w, null, { padding: 1 })));
      const out = await y.toArray();
      for (const t of [x, w, y]) t.dispose();
      return Array.from(out);
    };
    const cold = await run();
    await precompile(ctx, () => {
      const x = fromArray(data, [1, 3, 4, 4]);
      tidy(() => tanh(conv2d(x, fromArray(new Float32Array(27), [1, 3, 3, 3]), null, { padding: 1 })));
      x.dispose();
    });
    expect(await run()).toEqual(cold);
  });
});
