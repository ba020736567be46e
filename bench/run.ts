// Benchmarks: `npm run bench [-- suite ...] [--quick] [--full] [--iters N] [--no-tfjs]`
// (--full: the larger shapes of suites that have them; --iters: timed calls per measurement where a suite takes it).
//   matmul       GFLOP/s at 256/512/1024/2048 square (+ x·wᵀ and batched), vs tfjs-webgpu
//   elementwise  add / neg / copy GB/s at 4M and 16M elements, vs tfjs-webgpu
//   reduce       sum over the last axis and full sum GB/s, vs tfjs-webgpu
// Other suites with their own modules run when named: conv, attention, norm, models, sampler, null-text,
// train-step, compile, main-job (bench/<name>.ts, each exporting run<Name>Bench(opts) → rows, or { rows, extra }).
// Every call is timed up to the end of its GPU work (each sample ends with a queue sync, on both sides).
// Writes bench/results/<suite>.json and prints a table.
import { initGpu } from '../src/gpu/index.js';
import { matmulKernelFor } from '../src/ops/index.js';
import { loadTfjs, table, writeResult, type ResultFile, type Row, type SuiteContext } from './lib.js';
import * as elementwise from './suites/elementwise.js';
import * as matmul from './suites/matmul.js';
import * as reduce from './suites/reduce.js';

const SUITES: Record<string, { run: (s: SuiteContext) => Promise<Row[]> }> = { matmul, elementwise, reduce };
const OWN = ['matmul', 'elementwise', 'reduce'] as const;
const EXTERNAL: Record<string, { module: string; fn: string }> = {
  conv: { module: './conv.js', fn: 'runConvBench' },
  attention: { module: './attention.js', fn: 'runAttentionBench' },
  norm: { module: './norm.js', fn: 'runNormBench' },
  models: { module: './models.js', fn: 'runModelBench' },
  sampler: { module: './sampler.js', fn: 'runSamplerBench' },
  'null-text': { module: './null-text.js', fn: 'runNullTextBench' },
  compile: { module: './compile.js', fn: 'runCompileBench' },
  'train-step': { module: './train-step.js', fn: 'runTrainStepBench' },
  'main-job': { module: './main-job.js', fn: 'runMainJobBench' },
};

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(
    `usage: npm run bench -- [${[...OWN, ...Object.keys(EXTERNAL)].join('|')} ...] [--quick] [--full] [--iters N] [--no-tfjs]\n` +
    `(default suites: ${OWN.join(', ')})`,
  );
  process.exit(0);
}
const quick = args.includes('--quick');
// Timed calls per measurement, for the suites with their own modules that take it (attention, conv, …).
const itersAt = args.indexOf('--iters');
const iters = itersAt >= 0 ? Number(args[itersAt + 1]) : undefined;
const useTfjs = !args.includes('--no-tfjs');
const named = args.filter((a, i) => !a.startsWith('--') && (itersAt < 0 || i !== itersAt + 1));
const unknown = named.filter((n) => !(OWN as readonly string[]).includes(n) && !(n in EXTERNAL));
if (unknown.length) {
  console.error(`cflens bench: unknown suite(s) ${unknown.join(', ')}; known: ${[...OWN, ...Object.keys(EXTERNAL)].join(', ')}`);
  process.exit(2);
}
const suites = named.length ? named : [...OWN];

const ctx = await initGpu();
const a = ctx.summary;
console.log(
  `adapter: ${a.description || a.device} (${a.vendor} ${a.architecture}, backend ${a.backend}${a.isCpu ? ', CPU' : ''}); ` +
  `matmul kernel: ${matmulKernelFor(ctx)}${quick ? '; quick' : ''}`,
);

const s: SuiteContext = { ctx, quick, tfjs: null, log: (line) => console.log(line) };
if (useTfjs && suites.some((n) => (OWN as readonly string[]).includes(n))) {
  try {
    s.tfjs = await loadTfjs();
    console.log(`tfjs: ${JSON.stringify(s.tfjs.info)}`);
  } catch (e) {
    s.tfjsError = `tfjs-webgpu failed to initialise: ${(e as Error).message}`;
    console.log(s.tfjsError);
  }
} else if (!useTfjs) {
  s.tfjsError = 'tfjs disabled (--no-tfjs)';
}

const allRows: Row[] = [];
let failed = false;
for (const name of suites) {
  console.log(`\n== ${name}`);
  const base: Omit<ResultFile, 'rows' | 'timing'> = {
    suite: name,
    date: new Date().toISOString(),
    quick,
    node: process.version,
    adapter: ctx.summary,
    matmulKernel: matmulKernelFor(ctx),
    tfjs: s.tfjs ? { ok: true, info: s.tfjs.info } : { ok: false, error: s.tfjsError },
  };
  try {
    if ((OWN as readonly string[]).includes(name)) {
      const rows = await SUITES[name].run(s);
      allRows.push(...rows);
      const file = await writeResult(name, {
        ...base,
        timing: 'tinybench; one sample = one call + queue sync (cflens: ctx.sync(); tfjs: end pass, submit, onSubmittedWorkDone); ' +
          'ms = median, rate from the median; cpuMs = process CPU time per call (all threads)',
        rows,
      } satisfies ResultFile, quick ? 'quick' : 'full');
      console.log(`wrote ${file}`);
    } else {
      const ext = EXTERNAL[name];
      const mod = (await import(ext.module)) as Record<string, unknown>;
      // A suite returns its rows, or { rows, extra } with more fields for its result file.
      type Out = unknown[] | { rows: unknown[]; extra: Record<string, unknown> };
      const fn = mod[ext.fn] as ((o: {
        quick?: boolean; full?: boolean; iters?: number; ctx?: unknown; tfjs?: boolean; log?: (l: string) => void;
      }) => Promise<Out>) | undefined;
      if (typeof fn !== 'function') throw new Error(`${ext.module} does not export ${ext.fn}`);
      const out = await fn({ quick, full: args.includes('--full'), iters, ctx, tfjs: useTfjs, log: (l) => console.log(l) });
      const rows = Array.isArray(out) ? out : out.rows;
      console.table(rows);
      const file = await writeResult(name, { ...base, timing: `see bench/${name}.ts`, rows, ...(Array.isArray(out) ? {} : out.extra) } as ResultFile,
        quick ? 'quick' : 'full');
      console.log(`wrote ${file}`);
    }
  } catch (e) {
    failed = true;
    console.error(`suite ${name} failed: ${(e as Error).stack ?? e}`);
    await writeResult(name, { ...base, timing: '', rows: [], error: (e as Error).message }, 'failed');
  }
}

if (allRows.length) {
  console.log(`\n${table(allRows)}`);
}
// tfjs and Dawn keep handles open; leave explicitly.
process.exit(failed ? 1 : 0);
