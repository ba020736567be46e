import { describe, expect, it } from 'vitest';
import { BufferPool, sizeClass } from '../../src/gpu/buffer-pool.js';
import { MAP_PARAMS } from '../../src/ops/kernels/elementwise.js';
import { findAdapter } from '../../src/gpu/adapter.js';
import { GpuContext, NoAdapterError, DeviceLostError, GpuLimitError, fromArray, tensor, add, shader, launch } from '../../src/index.js';

describe('size classes', () => {
  it('round up by at most 25% and never below 256 bytes', () => {
    for (const n of [1, 255, 256, 257, 1000, 4096, 5000, 1 << 20, (1 << 20) + 1, 123456789]) {
      const c = sizeClass(n);
      expect(c).toBeGreaterThanOrEqual(n);
      expect(c).toBeGreaterThanOrEqual(256);
      if (n > 1024) expect(c / n).toBeLessThanOrEqual(1.25);
      expect(c % 4).toBe(0);
    }
  });
});

describe('device and pool', () => {
  it('requests the adapter limits and reports live and pooled bytes', async () => {
    const ctx = await GpuContext.create();
    const found = await findAdapter();
    expect(ctx.device.limits.maxStorageBufferBindingSize).toBe(found.adapter.limits.maxStorageBufferBindingSize);
    expect(ctx.device.limits.maxComputeWorkgroupStorageSize).toBe(found.adapter.limits.maxComputeWorkgroupStorageSize);
    const base = ctx.pool.snapshot();
    const a = fromArray(new Float32Array(1000), [1000], { ctx });
    expect(ctx.pool.snapshot().liveBytes - base.liveBytes).toBe(sizeClass(4000));
    a.dispose();
    // Released, but not reusable before the next submit.
    expect(ctx.pool.snapshot().pendingBytes).toBeGreaterThanOrEqual(sizeClass(4000));
    ctx.submit();
    const s = ctx.pool.snapshot();
    expect(s.liveBytes).toBe(base.liveBytes);
    expect(s.pooledBytes).toBeGreaterThanOrEqual(sizeClass(4000));
    const created = s.created;
    const b = fromArray(new Float32Array(900), [900], { ctx }); // same size class: reused
    expect(ctx.pool.snapshot().created).toBe(created);
    b.dispose();
    ctx.destroy();
  });

  it('does not hand a released buffer to a write before the work that read it is submitted', async () => {
    const ctx = await GpuContext.create();
    const a = fromArray([1, 2, 3, 4], [4], { ctx });
    const b = add(a, a); // recorded, not yet submitted
    a.dispose();
    const c = fromArray([100, 100, 100, 100], [4], { ctx }); // queue.writeBuffer runs before pending work
    expect(Array.from(await b.toArray())).toEqual([2, 4, 6, 8]);
    expect(Array.from(await c.toArray())).toEqual([100, 100, 100, 100]);
    ctx.destroy();
  });

  it('keeps constant buffers once per key, built once, outside the live tensor bytes', async () => {
    const ctx = await GpuContext.create();
    const live = ctx.pool.snapshot().liveBytes;
    let builds = 0;
    const build = () => {
      builds++;
      return Uint32Array.from([7, 8, 9]);
    };
    const a = ctx.constantBuffer('test-table', build);
    expect(ctx.constantBuffer('test-table', build)).toBe(a);
    expect(builds).toBe(1);
    expect(ctx.constantBuffer('test-zeros', 16)).not.toBe(a);
    expect(ctx.pool.snapshot().liveBytes).toBe(live);
    const out = fromArray([0, 0, 0], [3], { ctx });
    ctx.copyBuffer(a, 0, out.buffer, 0, 12);
    expect(Array.from(new Uint32Array((await out.toArray()).buffer))).toEqual([7, 8, 9]);
    out.dispose();
    ctx.destroy();
  });

  it('clears a byte range of a buffer in stream order with the kernels', async () => {
    const ctx = await GpuContext.create();
    const a = fromArray([1, 2, 3, 4, 5, 6], [6], { ctx });
    const b = add(a, a); // recorded before the clear: sees the old values
    ctx.clearBuffer(a.buffer, 4, 12);
    const c = add(a, a);
    expect(Array.from(await b.toArray())).toEqual([2, 4, 6, 8, 10, 12]);
    expect(Array.from(await c.toArray())).toEqual([2, 0, 0, 0, 10, 12]);
    for (const t of [a, b, c]) t.dispose();
    ctx.destroy();
  });

  it('caches pipelines by shader and constants', async () => {
    const ctx = await GpuContext.create();
    const kernel = (k: number) => `@group(0) @binding(0) var<storage, read_write> d: array<f32>;
@compute @workgroup_size(${k}) fn main(@builtin(global_invocation_id) g: vec3u) { d[g.x] = 1.0; }`;
    const code = kernel(64);
    const p1 = ctx.pipelines.get(code);
    const p2 = ctx.pipelines.get(code);
    expect(p1).toBe(p2);
    const p3 = await ctx.pipelines.getAsync(kernel(32));
    expect(p3).not.toBe(p1);
    expect(ctx.pipelines.get(kernel(32))).toBe(p3);
    ctx.destroy();
  });

  it('refuses a buffer over maxBufferSize; one over the binding limit exists but a kernel that cannot split it names the limit', async () => {
    const ctx = await GpuContext.create();
    expect(() => fromArray(new Float32Array(0), [0], { ctx })).not.toThrow();
    const max = ctx.device.limits.maxBufferSize;
    expect(() => ctx.createBuffer(max + 4)).toThrow(GpuLimitError);
    expect(() => ctx.createBuffer(max + 4)).toThrow(/maxBufferSize/);
    ctx.maxBindingOverride = 1024;
    const big = fromArray(new Float32Array(1000).fill(1), [1000], { ctx }); // 4000 bytes
    expect(() => add(big, big)).toThrow(/kernel 'binary(:main4)?': operand 0 of 4000 bytes.*maxStorageBufferBindingSize is 1024/);
    ctx.maxBindingOverride = null;
    expect(Array.from(await add(big, big).toArray()).every((v) => v === 2)).toBe(true);
    ctx.destroy();
  });

  it('surfaces device loss as an error at the next call, never a hang', async () => {
    const ctx = await GpuContext.create();
    const t = fromArray([1, 2], [2], { ctx });
    ctx.destroy();
    expect(() => add(t, t)).toThrow(DeviceLostError);
    await expect(t.toArray()).rejects.toThrow(/device was lost/);
  });

  it('surfaces an invalid kernel as an error at the next call', async () => {
    const ctx = await GpuContext.create();
    const t = fromArray([1, 2], [2], { ctx });
    // Dawn raises the compile error through the uncaptured-error event; the dispatch right after throws it.
    const code = shader('unary', { EXPR: 'not_a_function(x)' }, MAP_PARAMS);
    expect(() => launch(ctx, code, [t.buffer, t.buffer], MAP_PARAMS.pack({ n: 2, s0: 0, s1: 0 }), [1])).toThrow(/not_a_function/);
    expect(() => ctx.check()).not.toThrow();
    ctx.destroy();
  });

  it('explains what was tried when no adapter exists', async () => {
    const err = await findAdapter({ backend: 'd3d12' }).catch((e) => e);
    expect(err).toBeInstanceOf(NoAdapterError);
    expect(err.message).toMatch(/tried: Dawn backend=d3d12/);
    expect(err.message).toMatch(/setup-software-gpu\.sh/);
  });

  it('pool tracks peaks', () => {
    const fake = { createBuffer: ({ size }: { size: number }) => ({ size, destroy() {} }) } as unknown as GPUDevice;
    const pool = new BufferPool(fake, 1 << 30);
    const a = pool.acquire(1000, 0x80);
    const b = pool.acquire(3000, 0x80);
    pool.release(a);
    pool.onSubmit();
    expect(pool.snapshot().peakLiveBytes).toBe(sizeClass(1000) + sizeClass(3000));
    pool.release(b);
    pool.resetPeak();
    expect(pool.snapshot().peakLiveBytes).toBe(0);
    void tensor;
  });
});
