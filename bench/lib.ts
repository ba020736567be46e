// Shared pieces of the benchmark suites: GPU-synchronised timing through tinybench, the tfjs-webgpu
// comparison backend, result rows, the table and the JSON files under bench/results/.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import type { AdapterSummary, Binding, GpuContext } from '../src/gpu/index.js';
import type { Tensor } from '../src/autograd/tensor.js';
import { writeFileAtomic } from '../src/io/node/atomic-write.js';

export interface TimingOptions {
  /** Minimum timed iterations (tinybench `iterations`). */
  iterations: number;
  /** Time budget per task in ms (tinybench `time`); runs stop once both limits are met. */
  time: number;
  warmupIterations: number;
}

export interface Timing {
  /** Median wall-clock ms per call, GPU work included (each call ends with a sync). */
  ms: number;
  minMs: number;
  samples: number;
  /** Process CPU time (all threads) per call: on software adapters the work done, whatever the load. */
  cpuMs: number;
}

/**
 * Times `fn` (which enqueues GPU work and resolves when the GPU has finished it) with tinybench: one
 * sample = one call including its sync, so GPU execution is inside every sample.
 */
export async function timeAsync(name: string, fn: () => Promise<void>, o: TimingOptions): Promise<Timing> {
  const bench = new Bench({ name, iterations: o.iterations, time: o.time, warmupIterations: o.warmupIterations, warmupTime: 0, throws: true });
  let cpu = 0;
  let calls = 0;
  let counting = false;
  bench.add(name, async () => {
    const c0 = counting ? process.cpuUsage() : null;
    await fn();
    if (c0) {
      const d = process.cpuUsage(c0);
      cpu += (d.user + d.system) / 1000;
      calls++;
    }
  }, {
    // beforeAll runs once per phase (warmup, then the timed run): only the last phase is counted.
    beforeAll: () => {
      cpu = 0;
      calls = 0;
      counting = true;
    },
  });
  await bench.run();
  const r = bench.tasks[0].result as { state: string; latency?: { p50: number; min: number; samplesCount?: number }; error?: Error };
  if (r.state === 'errored' || !r.latency) throw r.error ?? new Error(`${name}: no result (${r.state})`);
  return { ms: r.latency.p50, minMs: r.latency.min, samples: calls, cpuMs: calls ? cpu / calls : NaN };
}

// ----------------------------------------------------------------------------------------------------
// tfjs-webgpu on the same adapter, through a second Dawn instance in this process.

type Tf = typeof import('@tensorflow/tfjs-core');
export interface TfjsHandle {
  tf: Tf;
  /** Ends tfjs's open compute pass, submits, and resolves when the GPU queue is idle. */
  sync: () => Promise<void>;
  info: Record<string, unknown>;
}

// Dawn crashes when its instance is garbage-collected while a device lives: keep it referenced.
let keepGpu: unknown = null;
let tfjs: Promise<TfjsHandle> | null = null;

/** Loads tfjs-core + tfjs-backend-webgpu on Dawn (once); rejects with the reason when it cannot. */
export function loadTfjs(): Promise<TfjsHandle> {
  tfjs ??= (async () => {
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (!g.navigator?.gpu) {
      const { create, globals } = (await import('webgpu')) as unknown as { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
      for (const [k, v] of Object.entries(globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
      keepGpu = create([]);
      Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator ?? {}), gpu: keepGpu }, configurable: true, writable: true });
    }
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") returned false');
    await tf.ready();
    const backend = tf.backend() as unknown as {
      device: GPUDevice;
      ensureCommandEncoderReady?: () => void;
      endComputePassEncoder?: () => void;
      submitQueue?: () => void;
      adapterInfo?: unknown;
    };
    if (!backend.device || !backend.submitQueue || !backend.endComputePassEncoder || !backend.ensureCommandEncoderReady) {
      throw new Error('tfjs-backend-webgpu does not expose device/submitQueue/endComputePassEncoder: cannot sync without reading back');
    }
    const sync = async () => {
      backend.ensureCommandEncoderReady!();
      backend.endComputePassEncoder!();
      backend.submitQueue!();
      await backend.device.queue.onSubmittedWorkDone();
    };
    const info: Record<string, unknown> = { version: tf.version_core, backend: tf.getBackend() };
    const ai = backend.adapterInfo as { vendor?: string; architecture?: string; description?: string } | undefined;
    if (ai) info.adapter = { vendor: ai.vendor, architecture: ai.architecture, description: ai.description };
    return { tf, sync, info };
  })();
  return tfjs;
}

// ----------------------------------------------------------------------------------------------------
// Rows, table, files

export interface Row {
  suite: string;
  /** What is measured, e.g. 'matmul' or 'add'. */
  op: string;
  shape: string;
  /** 'GFLOP/s' or 'GB/s'. */
  unit: string;
  cflens: Timing & { rate: number };
  tfjs?: (Timing & { rate: number }) | { error: string };
  /** cflens rate / tfjs rate (higher: cflens faster). */
  ratio?: number;
  note?: string;
}

export interface SuiteContext {
  ctx: GpuContext;
  quick: boolean;
  /** null when tfjs is disabled or failed to load (see tfjsError). */
  tfjs: TfjsHandle | null;
  tfjsError?: string;
  log: (line: string) => void;
}

/** Times one op on both sides; `work` is the FLOPs or bytes per call (rate = work / s / 1e9). */
export async function measurePair(
  s: SuiteContext,
  meta: { suite: string; op: string; shape: string; unit: string; work: number; note?: string },
  cflens: () => Promise<void>,
  tfjs: (() => Promise<void>) | null,
  o: TimingOptions,
): Promise<Row> {
  const rate = (t: Timing) => meta.work / (t.ms / 1000) / 1e9;
  const c = await timeAsync(`cflens ${meta.op} ${meta.shape}`, cflens, o);
  const row: Row = { suite: meta.suite, op: meta.op, shape: meta.shape, unit: meta.unit, cflens: { ...c, rate: rate(c) }, note: meta.note };
  if (tfjs) {
    try {
      const t = await timeAsync(`tfjs ${meta.op} ${meta.shape}`, tfjs, o);
      row.tfjs = { ...t, rate: rate(t) };
      row.ratio = row.cflens.rate / row.tfjs.rate;
    } catch (e) {
      row.tfjs = { error: (e as Error).message };
    }
  } else if (s.tfjs === null) {
    row.tfjs = { error: s.tfjsError ?? 'tfjs disabled' };
  }
  s.log(formatRow(row));
  return row;
}

const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');

function formatRow(r: Row): string {
  const t = r.tfjs && 'ms' in r.tfjs ? r.tfjs : null;
  return `  ${r.op} ${r.shape}: cflens ${fmt(r.cflens.ms, 2)} ms (${fmt(r.cflens.rate, 2)} ${r.unit})` +
    (t
      ? `, tfjs ${fmt(t.ms, 2)} ms (${fmt(t.rate, 2)} ${r.unit}), ratio ${fmt(r.ratio ?? NaN, 2)}x`
      : r.tfjs && 'error' in r.tfjs ? `, tfjs: ${r.tfjs.error}` : '');
}

/** A plain-text table of rows. */
export function table(rows: Row[]): string {
  const head = ['suite', 'op', 'shape', 'cflens ms', 'cflens rate', 'cflens cpu ms', 'tfjs ms', 'tfjs rate', 'tfjs cpu ms', 'cflens/tfjs'];
  const body = rows.map((r) => {
    const t = r.tfjs && 'ms' in r.tfjs ? r.tfjs : null;
    return [
      r.suite, r.op, r.shape,
      fmt(r.cflens.ms, 2), `${fmt(r.cflens.rate, 2)} ${r.unit}`, fmt(r.cflens.cpuMs, 1),
      t ? fmt(t.ms, 2) : 'n/a', t ? `${fmt(t.rate, 2)} ${r.unit}` : 'n/a', t ? fmt(t.cpuMs, 1) : 'n/a',
      r.ratio !== undefined ? `${fmt(r.ratio, 2)}x` : 'n/a',
    ];
  });
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...body.map(line)].join('\n');
}

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');

/**
 * Writes bench/results/<name>.json, or <name>.quick.json for a --quick run and <name>.failed.json for a
 * suite that threw, so neither replaces the full measurement the docs cite.
 */
export async function writeResult(name: string, data: unknown, kind: 'full' | 'quick' | 'failed' = 'full'): Promise<string> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, kind === 'full' ? `${name}.json` : `${name}.${kind}.json`);
  await writeFileAtomic(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

export interface ResultFile {
  suite: string;
  date: string;
  quick: boolean;
  node: string;
  adapter: AdapterSummary;
  matmulKernel?: string;
  tfjs: { ok: boolean; error?: string; info?: Record<string, unknown> };
  timing: string;
  rows: unknown[];
}

interface Captured { pipeline: GPUComputePipeline; buffers: Binding[]; workgroups: [number, number?, number?] }

/**
 * GPU time of one call of `fn`, from timestamp queries: the call's dispatches are captured (not run),
 * then replayed `reps` times inside one timed compute pass. Excludes CPU-side launch overhead. Null
 * when the device has no timestamp queries.
 */
export async function gpuTime(ctx: GpuContext, fn: () => Tensor | Tensor[], reps: number, warmMs = 300): Promise<number | null> {
  if (!ctx.timestamps) return null;
  const device = ctx.device;
  const captured: Captured[] = [];
  const c = ctx as unknown as { dispatch: GpuContext['dispatch'] };
  const original = c.dispatch;
  c.dispatch = (pipeline, buffers, workgroups) => {
    captured.push({ pipeline, buffers: [...buffers], workgroups });
  };
  let outs: Tensor[];
  try {
    const r = fn();
    outs = Array.isArray(r) ? r : [r];
  } finally {
    c.dispatch = original;
  }
  const groups = captured.map((d) => ctx.bindGroup(d.pipeline, d.buffers));
  const qs = device.createQuerySet({ type: 'timestamp', count: 2 });
  const resolve = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const replay = async (n: number, timed: boolean) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass(timed ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
    for (let r = 0; r < n; r++) {
      captured.forEach((d, i) => {
        pass.setPipeline(d.pipeline);
        pass.setBindGroup(0, groups[i]);
        pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1] ?? 1, d.workgroups[2] ?? 1);
      });
    }
    pass.end();
    if (timed) {
      enc.resolveQuerySet(qs, 0, 2, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, read, 0, 16);
    }
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  try {
    const w0 = performance.now();
    do await replay(reps, false); while (performance.now() - w0 < warmMs);
    const samples: number[] = [];
    for (let k = 0; k < 5; k++) {
      await replay(reps, true);
      await read.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(read.getMappedRange().slice(0));
      read.unmap();
      samples.push(Number(t[1] - t[0]) / 1e6 / reps);
    }
    samples.sort((a, b) => a - b);
    return samples[2];
  } finally {
    for (const t of outs) t.dispose();
    qs.destroy();
    resolve.destroy();
    read.destroy();
    ctx.submit();
  }
}

/**
 * Median ms per call of `fn` (which enqueues GPU work and returns tensors to dispose). The GPU is
 * first kept busy for `warmMs` so its clocks ramp up; each sample submits `batch` calls, then waits.
 * Includes CPU launch overhead where it exceeds the GPU time.
 */
export async function wallTime(ctx: GpuContext, fn: () => Tensor | Tensor[], iters: number, warmMs = 300): Promise<number> {
  const run = () => {
    const r = fn();
    for (const t of Array.isArray(r) ? r : [r]) t.dispose();
  };
  const batch = Math.max(1, Math.min(20, iters));
  const w0 = performance.now();
  do {
    for (let i = 0; i < batch; i++) {
      run();
      ctx.submit();
    }
    await ctx.sync();
  } while (performance.now() - w0 < warmMs);
  const samples: number[] = [];
  for (let done = 0; done < iters; done += batch) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) {
      run();
      ctx.submit(); // let the GPU start while the next call is encoded
    }
    await ctx.sync();
    samples.push((performance.now() - t0) / batch);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}
