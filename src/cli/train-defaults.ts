// npm run train:defaults [-- --only ddpm,clip] [--skip ...] [--out models/defaults] [--no-eval] [--eval-only]
// [--steps N (smoke runs)] [--checkpoints .cache/train] [--continue DIR] [--resume-mismatch]
// --continue DIR: start each model from DIR/<name>/model.safetensors (e.g. models/defaults: train the
// shipped models further, --steps more steps with a fresh optimiser and learning-rate schedule); its
// training.json keeps the earlier runs under `previous`.
// A checkpoint is resumed only by the run that made it (task, steps, seed, batch, learning rate, config and
// code hashes); --resume-mismatch resumes one anyway.
// Trains every default model from its seed (resumable: checkpoints in .cache/train/), writes the shipped
// folders (config.json + model.safetensors in f16 + training.json), then evaluates them into
// models/defaults/manifest.json.
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { initGpu } from '../gpu/index.js';
import '../ops/index.js'; // tensor methods (x.add(...)) are attached when src/ops is loaded
import { ensureWritableDir, writeFileAtomic } from '../io/node/atomic-write.js';
import { parseCommand, UsageError, type Parsed } from './args.js';
import { defaultTasks } from '../train/tasks.js';
import { trainTask, type CheckpointStore } from '../train/trainer.js';
import { evaluateDefaults, type Metrics } from '../train/evaluate.js';
import { defaultsReadme, type TrainingRecord } from '../train/summary.js';

let parsed: Parsed;
const arg = (name: string) => parsed.values[name] as string | undefined;
const flag = (name: string) => parsed.values[name] === true;

function fsStore(dir: string): CheckpointStore {
  return {
    async load(name) {
      try {
        return new Uint8Array(await readFile(join(dir, name)));
      } catch {
        return null;
      }
    },
    async save(name, bytes) {
      await ensureWritableDir(dir);
      await writeFileAtomic(join(dir, name), bytes);
    },
    where: (name) => join(dir, name),
  };
}

const fmt = (ms: number) => {
  const s = Math.round(ms / 1000);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};

async function main(): Promise<void> {
  parsed = parseCommand('train:defaults', process.argv.slice(2), {
    only: { type: 'string' }, skip: { type: 'string' }, out: { type: 'string' }, 'no-eval': { type: 'boolean' }, 'eval-only': { type: 'boolean' },
    steps: { type: 'string', min: 0 }, checkpoints: { type: 'string' }, continue: { type: 'string' }, 'resume-mismatch': { type: 'boolean' },
  });
  const out = arg('out') ?? 'models/defaults';
  await ensureWritableDir(out);
  const store = fsStore(arg('checkpoints') ?? '.cache/train');
  const only = arg('only')?.split(',');
  const skip = arg('skip')?.split(',') ?? [];
  const ctx = await initGpu();
  const hardware = `${ctx.summary.description || ctx.summary.device} (${ctx.summary.backend}), ${cpus().length} CPU cores: ${cpus()[0]?.model ?? '?'}`;
  if (!flag('eval-only')) {
    for (const task of defaultTasks()) {
      if ((only && !only.includes(task.name)) || skip.includes(task.name)) continue;
      console.log(`[${task.name}] ${task.description}: ${task.steps} steps of ${task.batchSize}`);
      let last = 0;
      const from = arg('continue');
      const init = from
        ? { name: join(from, task.name, 'model.safetensors'), bytes: new Uint8Array(await readFile(join(from, task.name, 'model.safetensors'))) }
        : undefined;
      const previous = from ? (JSON.parse(await readFile(join(from, task.name, 'training.json'), 'utf8')) as TrainingRecord) : undefined;
      const r = await trainTask(task, {
        store,
        init,
        steps: arg('steps') ? Number(arg('steps')) : undefined,
        resumeMismatch: flag('resume-mismatch'),
        onProgress: (p) => {
          if (p.step === p.steps || performance.now() - last > 10_000) {
            last = performance.now();
            console.log(`[${p.task}] step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} elapsed ${fmt(p.elapsedMs)} eta ${fmt(p.etaMs)}`);
          }
        },
      });
      const dir = join(out, task.name);
      await ensureWritableDir(dir);
      const built = task.build();
      built.model.dispose();
      await writeFileAtomic(join(dir, 'config.json'), `${JSON.stringify(built.config, null, 1)}\n`);
      for (const [name, text] of Object.entries(built.files ?? {})) await writeFileAtomic(join(dir, name), text);
      await writeFileAtomic(join(dir, 'model.safetensors'), await r.exportWeights('f16', { format: 'pt', cflens_task: task.name }));
      const record: TrainingRecord = {
        task: task.name, description: task.description, seed: task.seed, steps: (previous?.steps ?? 0) + r.state.step,
        batchSize: task.batchSize, lr: task.lr, ema: task.ema,
        trainingMs: Math.round((previous?.trainingMs ?? 0) + r.state.elapsedMs), hardware, losses: r.state.extra.losses as number[][],
        ...(previous ? { previous } : {}),
      };
      await writeFileAtomic(join(dir, 'training.json'), `${JSON.stringify(record, null, 1)}\n`);
      console.log(`[${task.name}] done in ${fmt(r.state.elapsedMs)} → ${dir}`);
      r.dispose();
    }
  }
  if (!flag('no-eval')) {
    const manifest = await evaluateDefaults(out, { only, log: (s) => console.log(s), writeFile: (name, bytes) => writeFileAtomic(join(out, name), bytes) });
    const path = join(out, 'manifest.json');
    // --only re-evaluates some models: keep the others' figures.
    const old = only ? (JSON.parse(await readFile(path, 'utf8').catch(() => '{"models":{}}')) as { models: Record<string, unknown> }) : { models: {} };
    const current = new Set(defaultTasks().map((t) => t.name)); // a model no task trains any more leaves the manifest
    const kept = Object.fromEntries(Object.entries(old.models).filter(([name]) => current.has(name)));
    const merged = { ...manifest, models: { ...kept, ...(manifest.models as Record<string, unknown>) } };
    await writeFileAtomic(path, `${JSON.stringify(merged, null, 1)}\n`);
    const records: Record<string, TrainingRecord> = {};
    for (const t of defaultTasks()) {
      const text = await readFile(join(out, t.name, 'training.json'), 'utf8').catch(() => null);
      if (text) records[t.name] = JSON.parse(text) as TrainingRecord;
    }
    await writeFileAtomic(join(out, 'README.md'), defaultsReadme(merged as { models: Record<string, Metrics> }, records));
    console.log(`wrote ${path} and ${join(out, 'README.md')}`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(e instanceof UsageError ? 2 : 1);
});
