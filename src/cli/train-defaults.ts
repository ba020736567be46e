// npm run train:defaults [-- --only ddpm,clip] [--skip ...] [--out models/defaults] [--no-eval] [--eval-only]
// [--steps N (smoke runs)] [--until N] [--checkpoints .cache/train] [--continue DIR] [--resume-mismatch]
// --until N: stop after step N (checkpointed; the learning-rate schedule still spans all steps) and ship
// the weights reached, which a later run resumes from the checkpoint or continues (--continue).
// [--sd-samples N (world_sd_unet's text-to-image evaluation: samples per prompt, default 4)]
// --continue DIR: start each model from DIR/<folder>/model.safetensors (e.g. models/defaults: train the
// shipped models further, --steps more steps with a fresh optimiser and learning-rate schedule); its
// training.json keeps the earlier runs under `previous`.
// A checkpoint is resumed only by the run that made it (task, steps, seed, batch, learning rate, config and
// code hashes); --resume-mismatch resumes one anyway.
// Trains every default model from its seed (resumable: checkpoints in .cache/train/), writes the shipped
// folders (config.json + model.safetensors in f16 + training.json; a task's folder is its name, or e.g.
// world_sd/vae, and a task may ship sibling files such as world_sd/model_index.json), then evaluates
// them into models/defaults/manifest.json. A task that trains on earlier ones (world_sd_unet: clip,
// world_sd/vae) reads them from --out.
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { initGpu } from '../gpu/index.js';
import '../ops/index.js'; // tensor methods (x.add(...)) are attached when src/ops is loaded
import { ensureWritableDir, writeFileAtomic } from '../io/node/atomic-write.js';
import { parseCommand, UsageError, type Parsed } from './args.js';
import { defaultTasks, folderOf, type DefaultTask, type Opener } from '../train/tasks.js';
import { trainTask, type CheckpointStore } from '../train/trainer.js';
import { shippedFiles } from '../train/ship.js';
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

/** The shipped weights and training record a --continue run starts from. */
async function shippedRun(from: string, task: DefaultTask): Promise<{ init: { name: string; bytes: Uint8Array }; previous: TrainingRecord }> {
  const read = (file: string) => readFile(join(from, folderOf(task), file)).catch((e: Error) => {
    throw new Error(`cflens: --continue ${from}: cannot read ${join(from, folderOf(task), file)} (${e.message}); ` +
      `train ${task.name} from its seed first (without --continue), or leave it out with --skip ${task.name}`);
  });
  const name = join(from, folderOf(task), 'model.safetensors');
  const previous = JSON.parse((await read('training.json')).toString('utf8')) as TrainingRecord;
  return { init: { name, bytes: new Uint8Array(await read('model.safetensors')) }, previous };
}

async function main(): Promise<void> {
  parsed = parseCommand('train:defaults', process.argv.slice(2), {
    only: { type: 'string' }, skip: { type: 'string' }, out: { type: 'string' }, 'no-eval': { type: 'boolean' }, 'eval-only': { type: 'boolean' },
    steps: { type: 'string', min: 0 }, until: { type: 'string', min: 1 }, checkpoints: { type: 'string' }, continue: { type: 'string' },
    'resume-mismatch': { type: 'boolean' },
    'sd-samples': { type: 'string', min: 1 },
  });
  const out = arg('out') ?? 'models/defaults';
  await ensureWritableDir(out);
  const store = fsStore(arg('checkpoints') ?? '.cache/train');
  const only = arg('only')?.split(',');
  const skip = arg('skip')?.split(',') ?? [];
  const open: Opener = (folder) => join(out, folder);
  const ctx = await initGpu();
  const hardware = `${ctx.summary.description || ctx.summary.device} (${ctx.summary.backend}), ${cpus().length} CPU cores: ${cpus()[0]?.model ?? '?'}`;
  if (!flag('eval-only')) {
    for (const task of defaultTasks()) {
      if ((only && !only.includes(task.name)) || skip.includes(task.name)) continue;
      console.log(`[${task.name}] ${task.description}: ${task.steps} steps of ${task.batchSize}`);
      let last = 0;
      const from = arg('continue');
      const folder = folderOf(task);
      const { init, previous } = from ? await shippedRun(from, task) : { init: undefined, previous: undefined };
      const r = await trainTask(task, {
        store,
        init,
        open,
        steps: arg('steps') ? Number(arg('steps')) : undefined,
        until: arg('until') ? Number(arg('until')) : undefined,
        resumeMismatch: flag('resume-mismatch'),
        onProgress: (p) => {
          if (p.step === p.steps || performance.now() - last > 10_000) {
            last = performance.now();
            console.log(`[${p.task}] step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} elapsed ${fmt(p.elapsedMs)} eta ${fmt(p.etaMs)}`);
          }
        },
      });
      const dir = join(out, folder);
      const files = Object.entries(await shippedFiles(task, r, open)).map(([path, body]) => [join(out, path), body] as const);
      for (const d of new Set(files.map(([path]) => dirname(path)))) await ensureWritableDir(d);
      for (const [path, body] of files) await writeFileAtomic(path, body);
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
    const manifest = await evaluateDefaults(out, {
      only, log: (s) => console.log(s), writeFile: (name, bytes) => writeFileAtomic(join(out, name), bytes),
      textToImage: arg('sd-samples') ? { samplesPerPrompt: Number(arg('sd-samples')) } : undefined,
    });
    const path = join(out, 'manifest.json');
    // --only re-evaluates some models: keep the others' figures.
    const old = only ? (JSON.parse(await readFile(path, 'utf8').catch(() => '{"models":{}}')) as { models: Record<string, unknown> }) : { models: {} };
    const current = new Set(defaultTasks().map((t) => t.name)); // a model no task trains any more leaves the manifest
    const kept = Object.fromEntries(Object.entries(old.models).filter(([name]) => current.has(name)));
    const merged = { ...manifest, models: { ...kept, ...(manifest.models as Record<string, unknown>) } };
    await writeFileAtomic(path, `${JSON.stringify(merged, null, 1)}\n`);
    const records: Record<string, TrainingRecord> = {};
    for (const t of defaultTasks()) {
      const text = await readFile(join(out, folderOf(t), 'training.json'), 'utf8').catch(() => null);
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
