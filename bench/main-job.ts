// `npm run bench -- main-job`: the main job (`npm start`: cflens diagnose, UMO on smile_blond with the CLI's
// defaults) timed end to end as a user runs it — a new process, once with empty shader caches (a new machine)
// and once warm — with what it found (the planted shortcut's rank, Spearman with the oracle, flip rate).
// The budget is 3 minutes on the software adapter.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../', import.meta.url).pathname;

function runOnce(cold: boolean, out: string) {
  const caches = mkdtempSync(join(tmpdir(), 'cflens-cold-'));
  const env = cold ? { ...process.env, MESA_SHADER_CACHE_DIR: join(caches, 'mesa'), XDG_CACHE_HOME: join(caches, 'xdg') } : process.env;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(root, 'bin/cflens.mjs'), 'diagnose', '--out', out], { cwd: root, env, encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  rmSync(caches, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`cflens bench main-job: the diagnosis exited ${String(r.status)}:\n${r.stderr.slice(-2000)}`);
  const compiled = /compiled (\d+) kernels in ([\d.]+) s/.exec(r.stdout);
  const rep = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as {
    flipRate: number; oracle: { plantedRank: number | null; spearman: number } | null; config: Record<string, unknown>;
  };
  return {
    run: cold ? 'npm start, empty shader caches' : 'npm start, warm caches', seconds, withinBudget: seconds <= 180,
    compileSeconds: compiled ? Number(compiled[2]) : 0, kernelsCompiled: compiled ? Number(compiled[1]) : 0,
    plantedRank: rep.oracle?.plantedRank ?? null, spearman: rep.oracle?.spearman ?? null, flipRate: rep.flipRate, config: JSON.stringify(rep.config),
  };
}

export async function runMainJobBench() {
  const out = mkdtempSync(join(tmpdir(), 'cflens-main-job-'));
  try {
    return [runOnce(true, out), runOnce(false, out)];
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
