// The training loop shared by every default model: warm-up + cosine learning rate, AdamW, optional
// EMA of the weights, checkpoints every few minutes through a store, progress with an ETA.
import { noGrad } from '../autograd/grad-mode.js';
import { keep, tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { backward } from '../autograd/engine.js';
import { clone } from '../ops/shape.js';
import type { Module } from '../nn/module.js';
import { emaUpdate, type Optimizer } from '../nn/optim.js';
import { checkpointBytes, restoreCheckpoint, restoreWeights, weightsBytes, type TrainState } from './checkpoint.js';
import { optimizerFor, type DefaultTask, type Opener } from './tasks.js';
import { taskLearningRate } from './schedule.js';

/** Where checkpoints live (a folder in Node, anything with bytes in a browser). */
export interface CheckpointStore {
  load(name: string): Promise<Uint8Array | null>;
  save(name: string, bytes: Uint8Array): Promise<void>;
  /** Where `name` lives (a file path), for messages; default the name itself. */
  where?(name: string): string;
}

export interface TrainProgress { task: string; step: number; steps: number; loss: number; elapsedMs: number; etaMs: number }

export interface TrainOptions {
  store?: CheckpointStore;
  /** Checkpoint at least this often (default 120 s). */
  checkpointEveryMs?: number;
  onProgress?: (p: TrainProgress) => void;
  /** Overrides task.steps (smoke runs). */
  steps?: number;
  /** Stops (with a checkpoint) after this step, as an interruption would; the schedule still spans `steps`. */
  until?: number;
  /**
   * Weights to start from instead of the task's seeded initialisation (a shipped model.safetensors: the
   * run continues training it, with a fresh optimiser and schedule); ignored when a checkpoint resumes.
   */
  init?: { name: string; bytes: Uint8Array };
  /**
   * Resume a checkpoint even when it was made by a different run (other steps, seed, batch, learning
   * rate, configuration or code). Without it such a checkpoint is refused, both identities shown.
   */
  resumeMismatch?: boolean;
  /** The shipped folders of earlier tasks, for a task that trains on them (task.trainNeeds). */
  open?: Opener;
}

/** What makes two runs the same run: a checkpoint is resumed only by the run that made it. */
export interface RunIdentity {
  task: string;
  steps: number;
  seed: number;
  batchSize: number;
  lr: number;
  ema: number;
  /** Hashes of the model configuration and of the task's code (build, loss, schedule). */
  configHash: string;
  codeHash: string;
  /** The weights a --continue run started from (hash), or null. */
  init: string | null;
}

/** FNV-1a, 64 bits, as hex: a stable fingerprint (not a security hash) that runs in browsers too. */
function fingerprint(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(text)) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}

export function runIdentity(task: DefaultTask, steps: number, config: unknown, init?: { bytes: Uint8Array }): RunIdentity {
  const code = [task.build, task.loss, task.learningRate].map((f) => (f ? f.toString() : '')).join('\n');
  let initHash: string | null = null;
  if (init) {
    let h = 0x811c9dc5;
    for (let i = 0; i < init.bytes.length; i++) h = Math.imul(h ^ init.bytes[i], 0x01000193) >>> 0;
    initHash = `${h.toString(16)}:${init.bytes.length}`;
  }
  return {
    task: task.name, steps, seed: task.seed, batchSize: task.batchSize, lr: task.lr, ema: task.ema,
    configHash: fingerprint(JSON.stringify(config)), codeHash: fingerprint(code), init: initHash,
  };
}

function checkIdentity(name: string, stored: RunIdentity | undefined, current: RunIdentity, allow: boolean): void {
  if (allow) return;
  const differs = !stored
    ? ['(the checkpoint records no run identity: it predates them)']
    : (Object.keys(current) as (keyof RunIdentity)[])
      .filter((k) => stored[k] !== current[k])
      .map((k) => `${k}: checkpoint ${JSON.stringify(stored[k])}, this run ${JSON.stringify(current[k])}`);
  if (!differs.length) return;
  throw new Error(
    `cflens: checkpoint ${name} was made by a different run than this one:\n  ${differs.join('\n  ')}\n` +
    'Resuming it would train with another schedule than the record says. ' +
    "Delete the checkpoint to start over, run with the checkpoint's settings, or pass --resume-mismatch to resume it anyway.",
  );
}

export interface TrainResult {
  model: Module;
  state: TrainState;
  /** The weights to ship (EMA weights where the task keeps them). */
  exportWeights(dtype: 'f16' | 'f32', metadata?: Record<string, string>): Promise<Uint8Array>;
  dispose(): void;
}

function copyInto(dst: Tensor, src: Tensor): void {
  dst.ctx.copyBuffer(src.buffer, 0, dst.buffer, 0, dst.size * 4);
}

/** Trains `task` to its last step, resuming from the store's checkpoint when there is one. */
export async function trainTask(task: DefaultTask, o: TrainOptions = {}): Promise<TrainResult> {
  const steps = o.steps ?? task.steps;
  if (task.prepare) {
    if (!o.open) throw new Error(`cflens: training ${task.name} needs the shipped folders ${task.trainNeeds?.join(', ') ?? ''}: pass open (where they are)`);
    await task.prepare(o.open);
  }
  try {
    return await trainPrepared(task, steps, o);
  } finally {
    task.release?.();
  }
}

async function trainPrepared(task: DefaultTask, steps: number, o: TrainOptions): Promise<TrainResult> {
  const built = task.build();
  const model = built.model;
  model.train();
  const opt: Optimizer = optimizerFor(model, task.lr);
  const params = model.parameters();
  const ema = task.ema > 0 ? params.map((p) => keep(noGrad(() => clone(p)))) : [];
  const ckptName = `${task.name}.ckpt.safetensors`;
  const identity = runIdentity(task, steps, built.config, o.init);
  let state: TrainState = { step: 0, elapsedMs: 0, extra: { losses: [] as number[][] } };
  const saved = await o.store?.load(ckptName);
  if (saved) {
    const where = o.store?.where?.(ckptName) ?? ckptName;
    state = await restoreCheckpoint(saved, where, model, opt, ema);
    checkIdentity(where, state.extra.identity as RunIdentity | undefined, identity, o.resumeMismatch ?? false);
  } else if (o.init) await restoreWeights(o.init.bytes, o.init.name, model, ema);
  state.extra.identity = identity;
  const losses = (state.extra.losses ??= []) as number[][];
  let lastSave = performance.now();
  const runStart = performance.now();
  const startElapsed = state.elapsedMs;
  const startStep = state.step;
  let window: number[] = [];
  const until = Math.min(steps, o.until ?? steps);
  for (let step = state.step; step < until; step++) {
    (opt as unknown as { opts: { lr: number } }).opts.lr = taskLearningRate(task, step, steps);
    const loss = tidy(() => {
      const l = task.loss(model, step, steps);
      backward(l);
      return l;
    });
    opt.step();
    opt.zeroGrad();
    if (ema.length) emaUpdate(ema, params, task.ema);
    const value = await loss.item();
    loss.dispose();
    if (!Number.isFinite(value)) {
      throw new Error(`cflens: training ${task.name}: the loss became ${value} at step ${step}; lower the learning rate (${task.lr}) or check the data`);
    }
    window.push(value);
    state.step = step + 1;
    state.elapsedMs = startElapsed + (performance.now() - runStart);
    if (window.length === 25 || state.step === steps) {
      losses.push([state.step, window.reduce((a, b) => a + b, 0) / window.length]);
      window = [];
    }
    const perStep = (state.elapsedMs - startElapsed) / (state.step - startStep);
    o.onProgress?.({ task: task.name, step: state.step, steps, loss: value, elapsedMs: state.elapsedMs, etaMs: perStep * (steps - state.step) });
    if (o.store && (performance.now() - lastSave > (o.checkpointEveryMs ?? 120_000) || state.step === until)) {
      await o.store.save(ckptName, await checkpointBytes(model, opt, state, ema));
      lastSave = performance.now();
    }
  }
  model.eval();
  return {
    model,
    state,
    async exportWeights(dtype, metadata) {
      if (!ema.length) return weightsBytes(model, dtype, metadata);
      const backup = params.map((p) => noGrad(() => clone(p)));
      params.forEach((p, i) => copyInto(p, ema[i]));
      try {
        return await weightsBytes(model, dtype, metadata);
      } finally {
        params.forEach((p, i) => copyInto(p, backup[i]));
        backup.forEach((b) => b.dispose());
      }
    },
    dispose() {
      opt.dispose();
      ema.forEach((t) => t.dispose());
      model.dispose();
    },
  };
}
