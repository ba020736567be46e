// `npm run bench -- compile [--quick]`: what kernels cost to compile on a new machine, on this adapter.
// A child process with empty shader caches traces every workload of bench/compile-workloads.ts (every
// kernel family and variant the engine can choose; --quick: the model fixtures and the default
// diagnosis only), then builds each distinct pipeline alone, timing its creation and — on CPU
// adapters, which compile on first dispatch — its first run. Per pipeline: creation time, WGSL size,
// what uses it; per workload: the total it pays from an empty cache. Then `cflens diagnose` (npm
// start's job) runs twice on one fresh cache: cold, then warm.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PipelineCost {
  name: string;
  variant: string;
  entry: string;
  wgslBytes: number;
  createMs: number;
  firstRunMs: number | null;
  /** createMs + firstRunMs: the whole cost on this adapter. */
  ms: number;
  usedBy: string[];
}

export interface WorkloadCost { workload: string; pipelines: number; coldCompileMs: number; traceMs: number }

interface ChildResult { adapter: unknown; pipelines: PipelineCost[]; workloads: WorkloadCost[] }

const root = fileURLToPath(new URL('..', import.meta.url));

/** Empty cache directories for one child (Mesa's, and anything else under the user's cache directory). */
function coldEnv(dir: string): NodeJS.ProcessEnv {
  return { ...process.env, MESA_SHADER_CACHE_DIR: join(dir, 'mesa'), XDG_CACHE_HOME: join(dir, 'xdg') };
}

async function child(quick: boolean, out: string): Promise<void> {
  const { initGpu, traceKernels, compileKernels } = await import('../src/index.js');
  const { workloads, quickWorkloads } = await import('./compile-workloads.js');
  const ctx = await initGpu();
  const list = quick ? quickWorkloads() : workloads();
  const uses = new Map<string, { use: import('../src/gpu/warmup.js').KernelUse; usedBy: string[] }>();
  const perWorkload: Array<{ workload: string; keys: string[]; traceMs: number }> = [];
  for (const [name, make] of Object.entries(list)) {
    const fn = await make(ctx);
    const t0 = performance.now();
    const traced = traceKernels(ctx, fn);
    const keys: string[] = [];
    for (const u of traced) {
      const key = `${u.entry}|${JSON.stringify(u.constants ?? null)}|${u.code}`;
      keys.push(key);
      const e = uses.get(key) ?? { use: u, usedBy: [] };
      e.usedBy.push(name);
      uses.set(key, e);
    }
    perWorkload.push({ workload: name, keys, traceMs: performance.now() - t0 });
    await ctx.sync();
  }
  const cost = new Map<string, PipelineCost>();
  let i = 0;
  for (const [key, { use, usedBy }] of uses) {
    const { compiled } = await compileKernels(ctx, [use]);
    const r = compiled[0];
    const ms = r ? r.ms + (r.firstRunMs ?? 0) : 0;
    cost.set(key, {
      name: use.label.name, variant: use.label.variant, entry: use.entry, wgslBytes: use.code.length,
      createMs: r?.ms ?? 0, firstRunMs: r?.firstRunMs ?? null, ms, usedBy,
    });
    if (++i % 20 === 0) console.error(`compile bench: ${i}/${uses.size} pipelines`);
  }
  const workloadCosts = perWorkload.map((w) => ({
    workload: w.workload,
    pipelines: w.keys.length,
    coldCompileMs: w.keys.reduce((s, k) => s + cost.get(k)!.ms, 0),
    traceMs: w.traceMs,
  }));
  writeFileSync(out, JSON.stringify({ adapter: ctx.summary, pipelines: [...cost.values()], workloads: workloadCosts } satisfies ChildResult));
  process.exit(0);
}

/** Wall time of `cflens diagnose` with the cache in `dir` (cold on the first call, warm after). */
function timeDiagnose(dir: string): number {
  const out = join(dir, 'report');
  const t0 = performance.now();
  const r = spawnSync('node', [join(root, 'bin/cflens.mjs'), 'diagnose', '--out', out], { env: coldEnv(dir), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cflens diagnose failed: ${r.stderr}`);
  return performance.now() - t0;
}

export async function runCompileBench(
  o: { quick?: boolean; log?: (l: string) => void } = {},
): Promise<{ rows: WorkloadCost[]; extra: Record<string, unknown> }> {
  const log = o.log ?? console.log;
  const dir = mkdtempSync(join(tmpdir(), 'cflens-compile-'));
  try {
    const out = join(dir, 'child.json');
    const t0 = performance.now();
    const r = spawnSync(
      'npx',
      ['tsx', fileURLToPath(import.meta.url), '--child', out, ...(o.quick ? ['--quick'] : [])],
      { env: coldEnv(join(dir, 'child')), stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (r.status !== 0) throw new Error(`compile bench child exited with ${r.status}`);
    const res = JSON.parse(readFileSync(out, 'utf8')) as ChildResult;
    const wall = performance.now() - t0;
    const pipelines = res.pipelines.sort((a, b) => b.ms - a.ms);
    const total = pipelines.reduce((s, p) => s + p.ms, 0);
    log(`${pipelines.length} distinct pipelines, ${(total / 1000).toFixed(1)} s to build from an empty cache (child wall ${(wall / 1000).toFixed(1)} s)`);
    log('slowest pipelines:');
    for (const p of pipelines.slice(0, 10)) {
      log(
        `  ${(p.ms / 1000).toFixed(2).padStart(7)} s  ${String(p.wgslBytes).padStart(6)} B  ${p.name}  ` +
        `(${p.usedBy.slice(0, 3).join('; ')}${p.usedBy.length > 3 ? ` +${p.usedBy.length - 3}` : ''})`,
      );
    }
    const cold = timeDiagnose(join(dir, 'diagnose'));
    const warm = timeDiagnose(join(dir, 'diagnose'));
    log(`cflens diagnose (npm start's job): ${(cold / 1000).toFixed(1)} s cold, ${(warm / 1000).toFixed(1)} s warm`);
    return {
      rows: res.workloads,
      extra: { totalCompileMs: total, pipelines, diagnose: { coldMs: cold, warmMs: warm } },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const argv = process.argv.slice(2);
if (argv[0] === '--child') await child(argv.includes('--quick'), argv[1]);
