// Normalisation benchmark: fused GroupNorm / LayerNorm and softmax
// forward — and the fused backward — as effective GB/s (bytes an ideal kernel must move: read the
// input, write the output), each next to an elementwise copy (read + write) of the same size.
//   npx tsx bench/norm.ts [--quick]
import {
  grad, groupNorm, initGpu, layerNorm, mapKernel, noGrad, randn, softmax, tidy, withFlags,
  type GpuContext, type Tensor,
} from '../src/index.js';
import { gpuTime, wallTime } from './lib.js';
import { groupNorm as groupNormRef } from '../src/reference/norm.js';

export interface NormBenchOptions {
  /** Small shapes and few iterations (CI / software adapters). */
  quick?: boolean;
  ctx?: GpuContext;
  /** Timed iterations per wall-clock measurement (default 50, quick 3). */
  iters?: number;
  /** Also time the backward passes (default true). */
  backward?: boolean;
  /** Check the GroupNorm output against the CPU reference (default true). */
  check?: boolean;
  /** Also time other settings of the norm.* flags (tuning aid). */
  sweep?: boolean;
  log?: (line: string) => void;
}

export interface NormBenchRow {
  name: string;
  shape: string;
  /** Median ms per call: GPU time from timestamp queries where available, else wall time. */
  ms: number;
  /** Wall-clock ms per call, calls submitted back to back (CPU launch overhead included). */
  wallMs: number;
  timing: 'gpu-timestamps' | 'wall';
  /** Bytes an ideal kernel moves (input read once, output written once) per ms. */
  gbps: number;
  /** An elementwise copy of the same number of elements, same timing method. */
  copyGbps: number;
  /** gbps / copyGbps. */
  ofCopy: number;
  note?: string;
}

export async function runNormBench(opts: NormBenchOptions = {}): Promise<NormBenchRow[]> {
  const log = opts.log ?? (() => {});
  const ctx = opts.ctx ?? (await initGpu());
  const quick = opts.quick ?? false;
  const iters = opts.iters ?? (quick ? 3 : 50);
  const reps = quick ? 2 : 50;
  const gn = quick ? [1, 32, 16, 16] : [2, 320, 64, 64];
  const ln = quick ? [256, 64] : [4096, 320];
  const sm = quick ? [4, 64, 64] : [16, 1024, 1024];
  const rows: NormBenchRow[] = [];
  const copyCache = new Map<number, { ms: number; wall: number }>();

  const measure = async (fn: () => Tensor | Tensor[]) => {
    const wall = await wallTime(ctx, fn, iters, 200);
    const gpuMs = await gpuTime(ctx, fn, reps);
    return { ms: gpuMs ?? wall, wall, timing: (gpuMs === null ? 'wall' : 'gpu-timestamps') as NormBenchRow['timing'] };
  };
  const copyOf = async (n: number) => {
    let c = copyCache.get(n);
    if (!c) {
      const x = randn([n], { ctx, seed: 99 });
      const m = await measure(() => mapKernel(x, 'x'));
      x.dispose();
      c = { ms: m.ms, wall: m.wall };
      copyCache.set(n, c);
    }
    return c;
  };
  /** `bytesPerElem`: ideal traffic per element (8 for read + write, 12 for the backward's x, g → dx). */
  const add = async (name: string, shape: readonly number[], fn: () => Tensor | Tensor[], bytesPerElem = 8, note?: string) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const m = await measure(fn);
    const copy = await copyOf(n);
    const gbps = (n * bytesPerElem) / m.ms / 1e6;
    const copyGbps = (n * 8) / copy.ms / 1e6;
    rows.push({ name, shape: shape.join('x'), ms: m.ms, wallMs: m.wall, timing: m.timing, gbps, copyGbps, ofCopy: gbps / copyGbps, note });
    log(`${name}: ${m.ms.toFixed(3)} ms, ${gbps.toFixed(0)} GB/s (copy ${copyGbps.toFixed(0)} GB/s)`);
  };

  const x = randn(gn, { ctx, seed: 1 });
  const C = gn[1];
  const w = randn([C], { ctx, seed: 2, mean: 1, std: 0.1 });
  const b = randn([C], { ctx, seed: 3, std: 0.1 });
  const g = randn(gn, { ctx, seed: 4 });
  const xl = randn(ln, { ctx, seed: 5 });
  const wl = randn([ln[1]], { ctx, seed: 6, mean: 1, std: 0.1 });
  const bl = randn([ln[1]], { ctx, seed: 7, std: 0.1 });
  const gl = randn(ln, { ctx, seed: 8 });
  const groups = 32;
  try {
    if (opts.check !== false) {
      const y = noGrad(() => groupNorm(x, groups));
      const got = await y.toArray();
      const ref = groupNormRef({ shape: [...gn], data: Float64Array.from(await x.toArray()) }, groups, null, null, 1e-5);
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref.data[i]));
      y.dispose();
      log(`GroupNorm check vs CPU reference: max |error| ${worst.toExponential(2)}`);
      if (!(worst < 1e-4)) throw new Error(`bench/norm: GroupNorm output differs from the reference by ${worst}`);
    }
    await noGrad(async () => {
      await add(`GroupNorm forward (${groups} groups, w+b)`, gn, () => groupNorm(x, groups, w, b));
      await withFlags(
        { 'norm.splitRowsBelow': 0 },
        () => add(`GroupNorm forward, one workgroup per group`, gn, () => groupNorm(x, groups, w, b), 8, 'split disabled, for comparison'),
        ctx,
      );
      if (opts.sweep) {
        for (const [targetWorkgroups, minChunk] of [[512, 2048], [2048, 1024], [4096, 512], [8192, 256]]) {
          await withFlags(
            { 'norm.targetWorkgroups': targetWorkgroups, 'norm.minChunk': minChunk },
            () => add('GroupNorm forward (w+b)', gn, () => groupNorm(x, groups, w, b), 8, `targetWorkgroups ${targetWorkgroups}, minChunk ${minChunk}`),
            ctx,
          );
        }
      }
      await add('LayerNorm forward (w+b)', ln, () => layerNorm(xl, [ln[1]], wl, bl));
      if (opts.sweep) {
        for (const rowWorkgroup of [32, 128, 256]) {
          await withFlags(
            { 'norm.rowWorkgroup': rowWorkgroup },
            () => add('LayerNorm forward (w+b)', ln, () => layerNorm(xl, [ln[1]], wl, bl), 8, `row workgroup ${rowWorkgroup}`),
            ctx,
          );
        }
      }
      await add('softmax forward (last axis)', ln, () => softmax(xl, -1));
      const xs = randn(sm, { ctx, seed: 9 });
      await add('softmax forward (last axis)', sm, () => softmax(xs, -1));
      if (ctx.caps.isCpu) {
        // The default on CPU adapters is a thread per row; the workgroup tree for comparison.
        await withFlags(
          { 'norm.rowKernel': 'workgroup' },
          () => add(
            'LayerNorm forward (w+b), a workgroup per row', ln, () => layerNorm(xl, [ln[1]], wl, bl), 8,
            'CPU default is a thread per row; for comparison',
          ),
          ctx,
        );
        await withFlags(
          { 'softmax.rowKernel': 'workgroup' },
          () => add('softmax forward, a workgroup per row', sm, () => softmax(xs, -1), 8, 'CPU default is a thread per row; for comparison'),
          ctx,
        );
      }
      xs.dispose();
    });
    if (opts.backward !== false) {
      for (const t of [x, w, b, xl, wl, bl]) t.requiresGrad_();
      const yg = groupNorm(x, groups, w, b);
      await add('GroupNorm backward (dx, dw, db)', gn, () => tidy(() => grad(yg, [x, w, b], [g], { retainGraph: true }) as Tensor[]), 12);
      await add('GroupNorm backward (dx only)', gn, () => tidy(() => grad(yg, [x], [g], { retainGraph: true }) as Tensor[]), 12);
      const yl = layerNorm(xl, [ln[1]], wl, bl);
      await add('LayerNorm backward (dx, dw, db)', ln, () => tidy(() => grad(yl, [xl, wl, bl], [gl], { retainGraph: true }) as Tensor[]), 12);
      await add('LayerNorm backward (dx only)', ln, () => tidy(() => grad(yl, [xl], [gl], { retainGraph: true }) as Tensor[]), 12);
      if (opts.sweep) {
        for (const paramThreads of [16384, 262144]) {
          await withFlags(
            { 'norm.paramThreads': paramThreads },
            () => add(
              'LayerNorm backward (dx, dw, db)', ln, () => tidy(() => grad(yl, [xl, wl, bl], [gl], { retainGraph: true }) as Tensor[]), 12,
              `paramThreads ${paramThreads}`,
            ),
            ctx,
          );
        }
      }
      yg.dispose();
      yl.dispose();
    }
  } finally {
    for (const t of [x, w, b, g, xl, wl, bl, gl]) t.dispose();
  }
  return rows;
}

const isMain = typeof process !== 'undefined' && /bench[\\/]norm\.ts$/.test(process.argv[1] ?? '') && import.meta.url.endsWith('bench/norm.ts');
if (isMain) {
  const args = process.argv.slice(2);
  const rows = await runNormBench({ quick: args.includes('--quick'), sweep: args.includes('--sweep'), log: (s) => console.log(s) });
  const ctx = await initGpu();
  console.log(`adapter: ${ctx.summary.vendor} ${ctx.summary.architecture} ${ctx.summary.description}`.trim());
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(46)} ${r.shape.padEnd(16)} ${r.ms.toFixed(3).padStart(8)} ms (${r.timing === 'wall' ? 'wall' : 'gpu'}) ` +
      `${r.gbps.toFixed(0).padStart(6)} GB/s  copy ${r.copyGbps.toFixed(0).padStart(6)} GB/s  ${(100 * r.ofCopy).toFixed(0).padStart(3)}% of copy  ` +
      `wall ${r.wallMs.toFixed(3)} ms  ${r.note ?? ''}`,
    );
  }
  process.exit(0);
}
