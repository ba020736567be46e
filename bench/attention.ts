// Attention benchmark: fused flash-style kernels vs the unfused composition (matmul → softmax →
// matmul), forward alone and forward + backward (dq, dk, dv), with the peak of the buffer pool.
//   npx tsx bench/attention.ts [--quick] [--full] [--seq 256,1024] [--dims 40,64] [--bh 2x8]
//
// Shapes: q, k, v [batch, heads, N, D] (self-attention, as a UNet's attn1). Default: N 256 and 1024,
// D 40 and 64, batch·heads 2×8; --full adds N 4096; --quick (software adapters) runs 1×2 heads.
// Timing is wall clock per call with the GPU synchronised after each sample (median), so it includes
// the engine's CPU launch cost. `peakBytes` is the pool's peak of live bytes during one call minus what
// was live before it (q, k, v, the output gradient): the op's own working memory.
//
// Results (ms, fused / unfused, batch·heads 2×8, median of 10 after 300 ms warm-up; peak MiB fused / unfused):
//   NVIDIA H100 (Vulkan via Dawn; 'wide' kernels, 48 KiB workgroup memory), --full:
//     N 256  D 40  fwd 0.51/0.62  fwd+bwd  1.25/1.57  peak  3.2/25
//     N 1024 D 40  fwd 0.64/1.05  fwd+bwd  2.37/2.61  peak 12.7/389
//     N 4096 D 40  fwd 6.11/9.55  fwd+bwd 27.1/25.7   peak 50.8/6164
//     N 256  D 64  fwd 0.25/0.48  fwd+bwd  0.80/1.17  peak  5.1/26
//     N 1024 D 64  fwd 0.82/1.17  fwd+bwd  4.39/3.28  peak 20.2/392
//     N 4096 D 64  fwd 10.3/9.42  fwd+bwd 58.4/25.4   peak 80.8/6176
//   The forward is 1.2-1.9x faster at N ≤ 1024 and 1.56x at 4096 (D 40); the backward (7 GEMM-sized
//   passes against the unfused path's 4, ~7 TFLOP/s) loses at N 4096, and at D 64 where workgroup
//   memory limits its tiles to 32×32. The first 'narrow'-only kernels ran 3-7x slower on the H100.
//   lavapipe (2 cores, --quick --full --iters 7, 1×2 heads; 'regs' kernels, bench/results/attention.json):
//     N 256  D 40  fwd 1.2/2.1   fwd+bwd 3.9/8.0    peak 1.6/3.2
//     N 1024 D 40  fwd 17/41     fwd+bwd 58/112     peak 6.3/49
//     N 4096 D 40  fwd 230/520   fwd+bwd 829/1449   peak 25/771
//     N 256  D 64  fwd 2.6/3.8   fwd+bwd 7.3/8.2    peak 2.5/3.3
//     N 1024 D 64  fwd 28/44     fwd+bwd 110/124    peak 10/49
//     N 4096 D 64  fwd 363/574   fwd+bwd 1253/1400  peak 40/772
//   The forward is 1.5-2.4x faster than the unfused path; forward + backward 1.75-2x at head size 40 and
//   1.12-1.13x at 64 (N ≥ 1024). The backward is one kernel (attention_bwd_regs.wgsl: dK, dV and per-slot
//   dQ partial sums; 5 GEMM-sized products) — with separate dQ and dK/dV kernels (7 products) it was
//   1.4-1.6x at 40 and 0.93-1.06x at 64; its partial sums (16 copies of dQ at 1×2 heads, fewer with
//   more heads) are the peak here, still linear in N. Run-to-run noise on this machine is ±10-20%.
//   With the 'narrow' kernels it was 0.17-0.26x (N 1024 D 64: fwd 127, fwd+bwd 681 ms).
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

async function median(ctx: GpuContext, fn: () => void, iters: number, warmMs = 300): Promise<number> {
  // Warm-up: pipelines compiled, buffers pooled, and the GPU kept busy so that its clocks ramp up.
  const w0 = performance.now();
  do {
    fn();
    await ctx.sync();
  } while (performance.now() - w0 < warmMs);
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
          const row: AttentionBenchRow = {
            impl, seq: n, headDim: d, batch, heads, fwdMs, fwdBwdMs, peakBytes, fwdGflops: (4 * batch * heads * n * n * d) / fwdMs / 1e6,
          };
          rows.push(row);
          log(
            `${impl.padEnd(8)} N ${String(n).padStart(5)} D ${String(d).padStart(3)} ${batch}x${heads}  fwd ${fwdMs.toFixed(2).padStart(9)} ms  ` +
            `fwd+bwd ${fwdBwdMs.toFixed(2).padStart(9)} ms  peak ${(peakBytes / 2 ** 20).toFixed(2).padStart(9)} MiB`,
          );
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
    if (u) {
      r.note = `${(u.fwdMs / r.fwdMs).toFixed(2)}x fwd, ${(u.fwdBwdMs / r.fwdBwdMs).toFixed(2)}x fwd+bwd, ` +
        `${(u.peakBytes / Math.max(1, r.peakBytes)).toFixed(1)}x less memory than unfused`;
    }
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
