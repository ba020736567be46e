// Convolution benchmark: conv2d forward, input gradient (dgrad) and weight gradient (wgrad) at a
// UNet-like shape, as GFLOP/s; the batched matmul at the equivalent GEMM size (when src/ops/matmul.ts
// exists) and tfjs-webgpu's conv2d on the same adapter (when its packages load), for comparison.
//   npx tsx bench/conv.ts [--quick] [--no-tfjs] [--tiles]
//
// Timing: `ms` is GPU time from timestamp queries (the op's dispatches are captured and replayed
// inside one timed pass, after ~300 ms of warm-up so the clocks ramp up); `wallMs` is wall time with
// calls submitted back to back, which includes the engine's CPU launch cost (~0.03-0.1 ms per call on
// Dawn/Node). tfjs is timed with its own timestamp queries (tf.time kernelMs).
//
// Tuning notes, NVIDIA H100 (Vulkan via Dawn), 2x320x32x32 3x3 p1 = 3.77 GFLOP per op:
//   first kernel (64x64x16 tiles, 4x4 per thread, no split-K)    ~0.30 ms   12.5 TFLOP/s
//   + one barrier per tile (2 buffers), BK 8, split-K 3-4       ~0.19 ms   19-20 TFLOP/s
//   + K-decoding table, padded smem rows, conflict-free micro-tiles, 64x128 tiles (4x8 per thread)
//                                                               ~0.17-0.18 ms  21-23 TFLOP/s
//   + 8x8 per thread (128 threads) on 64x128 tiles, split-K 3    ~0.16 ms   23-24 TFLOP/s
//   tfjs-webgpu conv2d (NHWC) 0.262 ms (14.4 TFLOP/s); our batch-8 run and a 1x1 conv of the same GEMM
//   size give the same ~22 TFLOP/s, so the implicit im2col costs nothing measurable.
//   No gain from: vec4 weight loads (slightly slower), textual loop unrolling (the driver unrolls
//   already), 128x128 tiles, BK 4 or 16, warp-shaped 8x4 thread blocks (kept: neutral). Probes: without global loads the
//   kernel ran 0.136 ms, without the multiply 0.097 ms: both phases are close to the limit.
//
// lavapipe (Mesa 25, 2 cores), same shape: the row kernels (conv_rows[...], src/ops/kernels/conv-regs.ts: one aligned vec4 per lane
// plus its neighbours by subgroup shuffle) run forward / dgrad / wgrad at 37.9 / 40.1 / 35.8 GFLOP/s =
// 105 / 111 / 99% of the regs matmul at the GEMM size (36.0), 6.9-7.7x tfjs-webgpu (5.2); in the slower
// run of bench/results/conv.json 33.0 / 36.2 / 32.2 = 121 / 132 / 118% of the matmul (27.3), 8.3-9.3x
// tfjs (3.9). The table kernels (conv_regs[...]) before them: 18.6 / 16.4 / 16.2 (64 / 56 / 55%); most
// of their time went to per-lane gathers of the K table and of bounds-checked image pixels.
// Pointwise 1x1 (2x320x32x32 → 640) on the matmul kernel: 27.5 / 28.5 / 23.5 GFLOP/s against the row
// kernels' 18.9 / 18.4 / 13.2 in the same run (1.45-1.8x).
import {
  conv2d, conv2dGeom, conv2dInputGrad, conv2dWeightGrad, initGpu, noGrad, randn, withFlags,
  type ConvGeom, type TileConfig, type GpuContext, type Tensor,
} from '../src/index.js';
import { gpuTime, wallTime } from './lib.js';

export interface ConvBenchOptions {
  /** Small shape and few iterations (CI / software adapters). */
  quick?: boolean;
  ctx?: GpuContext;
  /** Compare with tfjs-webgpu's conv2d (default true; skipped when it cannot load). */
  tfjs?: boolean;
  /** Timed iterations per wall-clock measurement (default 100, quick 3). */
  iters?: number;
  /** Also time GEMM tile shapes x split-K factors, batch 8 and a 1x1 conv of the GEMM's size (tuning aid). */
  tiles?: boolean;
  /** [tile, split-K] pairs for `tiles`. */
  tileList?: Array<[TileConfig, number]>;
  log?: (line: string) => void;
}

export interface ConvBenchRow {
  name: string;
  shape: string;
  /** Median milliseconds per call: GPU time from timestamp queries where available, else wall time. */
  ms: number;
  /** Wall-clock ms per call with calls submitted back to back (CPU launch overhead included). */
  wallMs: number;
  /** How `ms` was measured. */
  timing: 'gpu-timestamps' | 'wall';
  gflops: number;
  note?: string;
}

interface Case { label: string; x: [number, number, number, number]; w: [number, number, number, number]; padding: number }

const DEFAULT_TILE_SWEEP: Array<[TileConfig, number]> = [
  [{ BM: 64, BN: 128, BK: 8, TM: 4, TN: 8 }, 2],
  [{ BM: 64, BN: 128, BK: 8, TM: 4, TN: 8 }, 3],
  [{ BM: 64, BN: 128, BK: 8, TM: 4, TN: 8 }, 4],
  [{ BM: 64, BN: 128, BK: 8, TM: 8, TN: 8 }, 3],
  [{ BM: 64, BN: 64, BK: 8, TM: 4, TN: 4 }, 4],
  [{ BM: 128, BN: 64, BK: 8, TM: 8, TN: 4 }, 4],
];

const FULL: Case = { label: 'UNet 2x320x32x32, 3x3 p1', x: [2, 320, 32, 32], w: [320, 320, 3, 3], padding: 1 };
const QUICK: Case = { label: 'small 1x64x16x16, 3x3 p1', x: [1, 64, 16, 16], w: [64, 64, 3, 3], padding: 1 };

function flopsOf(g: ConvGeom): number {
  return 2 * g.B * g.Co * g.OH * g.OW * (g.C / g.G) * g.KH * g.KW;
}

const row = (name: string, shape: string, gpuMs: number | null, wallMs: number, flops: number): ConvBenchRow => {
  const ms = gpuMs ?? wallMs;
  return { name, shape, ms, wallMs, timing: gpuMs === null ? 'wall' : 'gpu-timestamps', gflops: flops / ms / 1e6 };
};

async function tryMatmul(): Promise<((a: Tensor, b: Tensor) => Tensor) | null> {
  const pick = (mod: unknown) => {
    const f = (mod as { matmul?: unknown }).matmul;
    return typeof f === 'function' ? (f as (a: Tensor, b: Tensor) => Tensor) : null;
  };
  try {
    const fromIndex = pick(await import('../src/index.js'));
    if (fromIndex) return fromIndex;
    const path = '../src/ops/matmul.js';
    return pick(await import(/* @vite-ignore */ path));
  } catch {
    return null;
  }
}

// tfjs needs navigator.gpu in Node; the Dawn instance must stay referenced for the process lifetime.
let keepTfGpu: unknown = null;

async function tfjsConv(c: Case, iters: number, log: (s: string) => void): Promise<{ wallMs: number; kernelMs: number | null } | null> {
  try {
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (!g.navigator?.gpu) {
      const { create, globals } = (await import('webgpu')) as unknown as { create: (f: string[]) => unknown; globals: Record<string, unknown> };
      for (const [k, v] of Object.entries(globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
      keepTfGpu = create([]);
      Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator ?? {}), gpu: keepTfGpu }, configurable: true, writable: true });
    }
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) throw new Error('setBackend(webgpu) failed');
    await tf.ready();
    const [B, C, H, W] = c.x;
    const [Co, , KH, KW] = c.w;
    const x = tf.randomNormal([B, H, W, C]) as import('@tensorflow/tfjs-core').Tensor4D;
    const w = tf.randomNormal([KH, KW, C, Co]) as import('@tensorflow/tfjs-core').Tensor4D;
    const backend = tf.backend() as unknown as {
      ensureCommandEncoderReady?: () => void; endComputePassEncoder?: () => void; submitQueue?: () => void; device?: GPUDevice;
    };
    const sync = async (y: import('@tensorflow/tfjs-core').Tensor) => {
      if (backend.device && backend.submitQueue && backend.endComputePassEncoder && backend.ensureCommandEncoderReady) {
        backend.ensureCommandEncoderReady();
        backend.endComputePassEncoder();
        backend.submitQueue();
        await backend.device.queue.onSubmittedWorkDone();
      } else {
        await y.data();
      }
    };
    const once = () => tf.conv2d(x, w, 1, c.padding === 1 ? 'same' : 'valid');
    const w0 = performance.now();
    do {
      const y = once();
      await sync(y);
      y.dispose();
    } while (performance.now() - w0 < 300);
    const samples: number[] = [];
    const batch = Math.max(1, Math.min(20, iters));
    for (let done = 0; done < iters; done += batch) {
      const t0 = performance.now();
      for (let i = 0; i < batch; i++) {
        const y = once();
        if (i + 1 < batch) {
          backend.ensureCommandEncoderReady?.();
          backend.endComputePassEncoder?.();
          backend.submitQueue?.();
          y.dispose();
        } else {
          await sync(y);
          y.dispose();
        }
      }
      samples.push((performance.now() - t0) / batch);
    }
    samples.sort((a, b) => a - b);
    // Kernel time from tfjs's own timestamp queries (tf.time), when the backend has them.
    const kernel: number[] = [];
    for (let i = 0; i < 5; i++) {
      const info = await tf.time(() => {
        once().dispose();
      });
      if (typeof info.kernelMs === 'number' && info.kernelMs > 0) kernel.push(info.kernelMs);
    }
    kernel.sort((a, b) => a - b);
    x.dispose();
    w.dispose();
    return { wallMs: samples[Math.floor(samples.length / 2)], kernelMs: kernel.length ? kernel[Math.floor(kernel.length / 2)] : null };
  } catch (e) {
    log(`tfjs-webgpu conv2d unavailable: ${(e as Error).message}`);
    return null;
  }
}

export async function runConvBench(opts: ConvBenchOptions = {}): Promise<ConvBenchRow[]> {
  const log = opts.log ?? (() => {});
  const ctx = opts.ctx ?? (await initGpu());
  const c = opts.quick ? QUICK : FULL;
  const iters = opts.iters ?? (opts.quick ? 3 : 100);
  const rows: ConvBenchRow[] = [];
  const g = conv2dGeom(c.x, c.w, { padding: c.padding });
  const flops = flopsOf(g);
  const shape = `${c.label}: x ${c.x.join('x')}, w ${c.w.join('x')}`;
  const x = randn(c.x, { ctx, seed: 1 });
  const w = randn(c.w, { ctx, seed: 2, std: 0.05 });
  const dy = randn([g.B, g.Co, g.OH, g.OW], { ctx, seed: 3 });
  const M = g.Co;
  const N = g.B * g.OH * g.OW;
  const K = (g.C / g.G) * g.KH * g.KW;
  const measure = async (name: string, sh: string, fn: () => Tensor, fl: number) => {
    const wall = await wallTime(ctx, fn, opts.tiles ? 20 : iters, opts.tiles ? 50 : 300);
    const gpuMs = await gpuTime(ctx, fn, opts.quick ? 3 : 50, opts.tiles ? 100 : 300);
    rows.push(row(name, sh, gpuMs, wall, fl));
  };
  const fwd = () => conv2d(x, w, null, { padding: c.padding });
  const dgrad = () => conv2dInputGrad(c.x, w, dy, { padding: c.padding });
  const wgrad = () => conv2dWeightGrad(x, c.w, dy, { padding: c.padding });
  try {
    await noGrad(async () => {
      await measure('conv2d forward', shape, fwd, flops);
      await measure('conv2d dgrad (input grad)', shape, dgrad, flops);
      await measure('conv2d wgrad (weight grad)', shape, wgrad, flops);
      if (opts.tiles) {
        const tx = randn([1, 8, 4, 4], { ctx, seed: 6 });
        const tw = randn([8, 8, 3, 3], { ctx, seed: 7 });
        await measure('overhead: tiny conv2d 1x8x4x4', '', () => conv2d(tx, tw, null, { padding: 1 }), 1);
        tx.dispose();
        tw.dispose();
        for (const [t, split] of opts.tileList ?? DEFAULT_TILE_SWEEP) {
          await withFlags({ 'conv.tile': t, 'conv.splitK': split }, async () => {
            const tag = `${t.BM}x${t.BN}x${t.BK} ${t.TM}x${t.TN} split ${split}`;
            await measure(`conv2d forward ${tag}`, shape, fwd, flops);
            await measure(`conv2d dgrad ${tag}`, shape, dgrad, flops);
            await measure(`conv2d wgrad ${tag}`, shape, wgrad, flops);
          }, ctx);
        }
        // Scaling: the same layer at batch 8, and a 1x1 conv that is a plain GEMM of the forward's size.
        const x8 = randn([8, c.x[1], c.x[2], c.x[3]], { ctx, seed: 8 });
        const f8 = flopsOf(conv2dGeom(x8.shape, c.w, { padding: c.padding }));
        await measure('conv2d forward, batch 8', `x ${x8.shape.join('x')}`, () => conv2d(x8, w, null, { padding: c.padding }), f8);
        x8.dispose();
        const xg = randn([1, K, 1, N], { ctx, seed: 9 });
        const wg = randn([M, K, 1, 1], { ctx, seed: 10 });
        await measure('conv2d 1x1 as GEMM (forward size)', `x ${xg.shape.join('x')}, w ${wg.shape.join('x')}`, () => conv2d(xg, wg), 2 * M * N * K);
        xg.dispose();
        wg.dispose();
      }
      // A pointwise (1x1) convolution of the UNet's ResNet shortcuts, 320 → 640 channels: on CPU adapters
      // it runs on the matmul kernel; the row kernels ('rows') are the comparison.
      if (!opts.quick) {
        const px = randn([2, 320, 32, 32], { ctx, seed: 11 });
        const pw = randn([640, 320, 1, 1], { ctx, seed: 12, std: 0.05 });
        const pdy = randn([2, 640, 32, 32], { ctx, seed: 13 });
        const pf = 2 * 2 * 640 * 320 * 32 * 32;
        const psh = 'UNet shortcut 1x1: x 2x320x32x32, w 640x320x1x1';
        try {
          for (const algo of ['auto', 'rows'] as const) {
            const tag = algo === 'auto' ? '' : ' (row kernels)';
            await withFlags({ 'conv.algo': algo }, async () => {
              await measure(`conv2d 1x1 forward${tag}`, psh, () => conv2d(px, pw), pf);
              await measure(`conv2d 1x1 dgrad${tag}`, psh, () => conv2dInputGrad(px.shape, pw, pdy), pf);
              await measure(`conv2d 1x1 wgrad${tag}`, psh, () => conv2dWeightGrad(px, pw.shape, pdy), pf);
            }, ctx);
          }
        } finally {
          for (const t of [px, pw, pdy]) t.dispose();
        }
      }
      const matmul = await tryMatmul();
      if (matmul) {
        const a = randn([M, K], { ctx, seed: 4 });
        const b = randn([K, N], { ctx, seed: 5 });
        try {
          await measure('matmul (equivalent GEMM)', `[${M}, ${K}] x [${K}, ${N}]`, () => matmul(a, b), 2 * M * N * K);
        } finally {
          a.dispose();
          b.dispose();
        }
      } else {
        log('src/ops/matmul.ts not available: no matmul comparison');
      }
    });
  } finally {
    x.dispose();
    w.dispose();
    dy.dispose();
  }
  if (opts.tfjs !== false) {
    const t = await tfjsConv(c, iters, log);
    if (t) rows.push(row('tfjs-webgpu conv2d (NHWC)', shape, t.kernelMs, t.wallMs, flops));
  }
  const mm = rows.find((r) => r.name.startsWith('matmul'));
  const tf = rows.find((r) => r.name.startsWith('tfjs'));
  for (const r of rows) {
    if (!r.name.startsWith('conv2d')) continue;
    const notes: string[] = [];
    if (mm) notes.push(`${((100 * r.gflops) / mm.gflops).toFixed(0)}% of matmul`);
    if (tf) notes.push(`${(r.gflops / tf.gflops).toFixed(2)}x tfjs`);
    if (notes.length) r.note = notes.join(', ');
  }
  return rows;
}

const isMain = typeof process !== 'undefined' && /bench[\\/]conv\.ts$/.test(process.argv[1] ?? '') && import.meta.url.endsWith('bench/conv.ts');
if (isMain) {
  const args = process.argv.slice(2);
  const rows = await runConvBench({
    quick: args.includes('--quick'), tfjs: !args.includes('--no-tfjs'), tiles: args.includes('--tiles'), log: (s) => console.log(s),
  });
  const ctx = await initGpu();
  console.log(`adapter: ${ctx.summary.vendor} ${ctx.summary.architecture} ${ctx.summary.description}`.trim());
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(44)} ${r.ms.toFixed(3).padStart(8)} ms (${r.timing === 'wall' ? 'wall' : 'gpu'}) ` +
      `${r.gflops.toFixed(0).padStart(7)} GFLOP/s  wall ${r.wallMs.toFixed(3)} ms  ${r.note ?? ''}`,
    );
  }
  process.exit(0);
}
