// Attention benchmark: fused flash-style kernels vs the unfused composition (matmul → softmax →
// matmul), forward alone and forward + backward (dq, dk, dv), with the peak of the buffer pool.
//   npx tsx bench/attention.ts [--quick] [--full] [--seq 256,1024] [--dims 40,64] [--bh 2x8]
//
// Shapes: q, k, v [batch, heads, N, D] (self-attention, as a UNet's attn1). Default: N 256 and 1024,
// D 40 and 64, batch·heads 2×8; --full adds N 4096; --quick (software adapters) runs 1×2 heads.
// Timing is wall clock per call with the GPU synchronised after each sample (median), so it includes
// the engine's CPU launch cost. `peakBytes` is the pool's peak of live bytes during one call minus what
// was live before it (q, k, v, the output gradient): the op's own working memory.
import { backward, initGpu, noGrad, randn, scaledDotProductAttention, type GpuContext, type Tensor } from '../src/index.js';

export interface AttentionBenchOptions {
  /** Small batch·heads and few iterations (CI / software adapters). */
  quick?: boolean;
  /** Also N = 4096 (needs ~5 GB for the unfused path at 2×8 heads). */
  full?: boolean;
  seqs?: number[];
  dims?: number[];
  batch?: number;
  heads?: number;
  /** Timed calls per measurement (default 10, quick 3). */
  iters?: number;
  /** Skip the unfused path above this N (its Lq×Lk buffers); default: never skip. */
  maxUnfusedSeq?: number;
  ctx?: GpuContext;
  log?: (line: string) => void;
}

export interface AttentionBenchRow {
  impl: 'fused' | 'unfused';
  seq: number;
  headDim: number;
  batch: number;
  heads: number;
  /** Median wall ms of the forward pass (no tape). */
  fwdMs: number;
  /** Median wall ms of forward + backward (gradients of q, k, v). */
  fwdBwdMs: number;
  /** Pool peak during forward + backward minus the bytes live before. */
  peakBytes: number;
  /** Forward FLOPs (4·B·H·N²·D) per ms of fwdMs, in GFLOP/s. */
  fwdGflops: number;
  note?: string;
}

async function median(ctx: GpuContext, fn: () => void, iters: number): Promise<number> {
  fn();
  await ctx.sync(); // warm-up: pipelines compiled, buffers pooled
  const samples: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    fn();
    await ctx.sync();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

export async function runAttentionBench(opts: AttentionBenchOptions = {}): Promise<AttentionBenchRow[]> {
  const log = opts.log ?? (() => {});
  const ctx = opts.ctx ?? (await initGpu());
  const seqs = opts.seqs ?? (opts.full ? [256, 1024, 4096] : [256, 1024]);
  const dims = opts.dims ?? [40, 64];
  const batch = opts.batch ?? (opts.quick ? 1 : 2);
  const heads = opts.heads ?? (opts.quick ? 2 : 8);
  const iters = opts.iters ?? (opts.quick ? 3 : 10);
  const rows: AttentionBenchRow[] = [];
  for (const d of dims) {
    for (const n of seqs) {
      const shape = [batch, heads, n, d];
      const q = randn(shape, { ctx, seed: 1 }).requiresGrad_();
      const k = randn(shape, { ctx, seed: 2 }).requiresGrad_();
      const v = randn(shape, { ctx, seed: 3 }).requiresGrad_();
      const g = randn(shape, { ctx, seed: 4 });
      try {
        for (const impl of ['fused', 'unfused'] as const) {
          if (impl === 'unfused' && opts.maxUnfusedSeq !== undefined && n > opts.maxUnfusedSeq) continue;
          const fwd = () => noGrad(() => scaledDotProductAttention(q, k, v, { impl }).dispose());
          const both = () => {
            const y = scaledDotProductAttention(q, k, v, { impl });
            backward(y, g);
            y.dispose();
            for (const t of [q, k, v] as Tensor[]) {
              t.grad?.dispose();
              t.grad = null;
            }
          };
          let fwdMs: number;
          let fwdBwdMs: number;
          let peakBytes: number;
          try {
            fwdMs = await median(ctx, fwd, iters);
            fwdBwdMs = await median(ctx, both, iters);
            await ctx.sync();
            ctx.pool.resetPeak();
            const before = ctx.pool.snapshot().liveBytes;
            both();
            await ctx.sync();
            peakBytes = ctx.pool.snapshot().peakLiveBytes - before;
          } catch (e) {
            // e.g. the unfused path's Lq×Lk buffers past maxStorageBufferBindingSize
            log(`${impl} N ${n} D ${d}: ${(e as Error).message}`);
            for (const t of [q, k, v] as Tensor[]) {
              t.grad?.dispose();
              t.grad = null;
            }
            continue;
          }
          const row: AttentionBenchRow = { impl, seq: n, headDim: d, batch, heads, fwdMs, fwdBwdMs, peakBytes, fwdGflops: (4 * batch * heads * n * n * d) / fwdMs / 1e6 };
          rows.push(row);
          log(`${impl.padEnd(8)} N ${String(n).padStart(5)} D ${String(d).padStart(3)} ${batch}x${heads}  fwd ${fwdMs.toFixed(2).padStart(9)} ms  fwd+bwd ${fwdBwdMs.toFixed(2).padStart(9)} ms  peak ${(peakBytes / 2 ** 20).toFixed(2).padStart(9)} MiB`);
        }
      } finally {
        for (const t of [q, k, v, g]) t.dispose();
        ctx.pool.trim();
      }
    }
  }
  for (const r of rows) {
    if (r.impl !== 'fused') continue;
    const u = rows.find((x) => x.impl === 'unfused' && x.seq === r.seq && x.headDim === r.headDim);
    if (u) r.note = `${(u.fwdMs / r.fwdMs).toFixed(2)}x fwd, ${(u.fwdBwdMs / r.fwdBwdMs).toFixed(2)}x fwd+bwd, ${(u.peakBytes / Math.max(1, r.peakBytes)).toFixed(1)}x less memory than unfused`;
  }
  return rows;
}

const isMain = typeof process !== 'undefined' && /bench[\\/]attention\.ts$/.test(process.argv[1] ?? '') && import.meta.url.endsWith('bench/attention.ts');
if (isMain) {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const list = (s: string | undefined) => s?.split(',').map(Number);
  const bh = arg('--bh')?.split('x').map(Number);
  const ctx = await initGpu();
  console.log(`adapter: ${ctx.summary.vendor} ${ctx.summary.architecture} ${ctx.summary.description}`.trim());
  const rows = await runAttentionBench({
    ctx,
    quick: args.includes('--quick'),
    full: args.includes('--full'),
    seqs: list(arg('--seq')),
    dims: list(arg('--dims')),
    batch: bh?.[0],
    heads: bh?.[1],
    iters: arg('--iters') ? Number(arg('--iters')) : undefined,
    log: (s) => console.log(s),
  });
  for (const r of rows) if (r.note) console.log(`N ${r.seq} D ${r.headDim}: fused ${r.note}`);
  process.exit(0);
}
