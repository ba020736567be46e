// One training step of each default model type decreases its loss on the same batch; a resumed run
// is identical to an uninterrupted one.
import { beforeAll, describe, expect, it } from 'vitest';
import { backward, tidy, type Module } from '../../src/index.js';
import { CLIP_IMAGE_PHASE, defaultTasks, optimizerFor, type DefaultTask } from '../../src/train/tasks.js';
import type { CLIPModel } from '../../src/models/clip/clip-model.js';
import { trainTask, type CheckpointStore } from '../../src/train/trainer.js';
import { weightsBytes } from '../../src/train/checkpoint.js';
import { learningRate, taskLearningRate } from '../../src/train/schedule.js';
import { setupGpu } from '../helpers/gpu.js';

beforeAll(async () => { await setupGpu(); });

function small(task: DefaultTask, batchSize: number): DefaultTask {
  return Object.assign(Object.create(Object.getPrototypeOf(task)), task, { batchSize });
}

async function lossAt(task: DefaultTask, model: Module, step: number): Promise<number> {
  const l = tidy(() => task.loss(model, step, task.steps));
  const v = await l.item();
  l.dispose();
  return v;
}

const BATCH: Record<string, number> = { ddpm: 2, clip: 8, segmenter: 4, world_sd_vae: 2 };
/** Steps whose loss differs in kind: CLIP's image phase (step 0) and its text phase (the last step). */
const PHASES: Record<string, (steps: number) => number[]> = { clip: (n) => [0, n - 1] };

describe('default model training', () => {
  // Tasks that train on earlier tasks' folders (world_sd_unet) are tested with tiny models in world-sd.test.ts.
  for (const base of defaultTasks().filter((t) => !t.prepare)) {
    for (const step of (PHASES[base.kind] ?? (() => [0]))(base.steps)) {
      it(`one step decreases the loss: ${base.name} (${base.kind}), step ${step}`, async () => {
        const task = small(base, BATCH[base.kind] ?? 8);
        const { model } = task.build();
        model.train();
        // the learning rate of this step of the real schedule (step 0: the warm-up's first)
        const opt = optimizerFor(model, Math.max(taskLearningRate(task, step, task.steps), 1e-4));
        const before = await lossAt(task, model, step);
        const l = tidy(() => {
          const x = task.loss(model, step, task.steps);
          backward(x);
          return x;
        });
        l.dispose();
        opt.step();
        const after = await lossAt(task, model, step);
        expect(Number.isFinite(before)).toBe(true);
        expect(after).toBeLessThan(before);
        opt.dispose();
        model.dispose();
      }, 60_000);
    }
  }

  it('CLIP: the image tower learns first, then stays locked while the text tower learns', async () => {
    const task = small(defaultTasks().find((t) => t.name === 'clip')!, 8);
    const { model } = task.build();
    const m = model as CLIPModel;
    const grads = async (step: number) => {
      tidy(() => backward(task.loss(model, step, task.steps)));
      const has = (mod: Module) => mod.parameters().some((p) => p.grad);
      const r = { vision: has(m.vision_model) || has(m.visual_projection), text: has(m.text_model) || has(m.text_projection) };
      for (const p of model.parameters()) p.grad?.dispose(), (p.grad = null);
      return r;
    };
    expect(await grads(0)).toEqual({ vision: true, text: false });
    expect(await grads(task.steps - 1)).toEqual({ vision: false, text: true });
    // each phase runs its own warm-up and cosine
    const first = Math.round(CLIP_IMAGE_PHASE * task.steps);
    expect(task.learningRate!(first, task.steps)).toBeCloseTo(learningRate(task.lr, 0, task.steps - first));
    expect(task.learningRate!(first - 1, task.steps)).toBeLessThan(0.11 * task.lr);
    model.dispose();
  }, 60_000);

  it('learning rate: warm-up then cosine to 10%', () => {
    expect(learningRate(1, 0, 100)).toBeCloseTo(0.2);
    expect(learningRate(1, 4, 100)).toBeCloseTo(1);
    expect(learningRate(1, 99, 100)).toBeGreaterThan(0.09);
    expect(learningRate(1, 99, 100)).toBeLessThan(0.11);
  });

  it('a continued run starts from the given weights, in the model and in its EMA copies', async () => {
    const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
    let classifierBytes: Uint8Array | null = null;
    for (const [name, batch] of [['hair_color', 4], ['ddpm', 2]] as const) {
      const task = small(defaultTasks().find((t) => t.name === name)!, batch);
      const trained = await trainTask(task, { steps: 1 });
      const bytes = await trained.exportWeights('f32'); // the EMA weights where the task keeps them
      trained.dispose();
      const seeded = await trainTask(task, { steps: 0 });
      expect(same(await seeded.exportWeights('f32'), bytes)).toBe(false);
      seeded.dispose();
      const continued = await trainTask(task, { steps: 0, init: { name: `${name}.safetensors`, bytes } });
      expect(same(await weightsBytes(continued.model, 'f32'), bytes)).toBe(true);
      expect(same(await continued.exportWeights('f32'), bytes)).toBe(true);
      continued.dispose();
      if (name === 'hair_color') classifierBytes = bytes;
      else await expect(trainTask(task, { steps: 0, init: { name: 'hair_color.safetensors', bytes: classifierBytes! } })).rejects.toThrow(/hair_color\.safetensors does not fit this model: missing/);
    }
  }, 60_000);

  it('a resumed run ends with the weights of an uninterrupted one', async () => {
    const task = small(defaultTasks().find((t) => t.name === 'hair_color')!, 4);
    const files = new Map<string, Uint8Array>();
    const store: CheckpointStore = { load: async (n) => files.get(n) ?? null, save: async (n, b) => { files.set(n, b); } };
    const straight = await trainTask(task, { steps: 3 });
    (await trainTask(task, { steps: 3, until: 2, store })).dispose();
    expect(files.size).toBe(1);
    const resumed = await trainTask(task, { steps: 3, store });
    expect(resumed.state.step).toBe(3);
    const a = [...straight.model.stateDict()];
    const b = resumed.model.stateDict();
    for (const [name, t] of a) expect(Array.from(await b.get(name)!.toArray()), name).toEqual(Array.from(await t.toArray()));
    straight.dispose();
    resumed.dispose();
  }, 60_000);

  it('a checkpoint is resumed only by the run that made it (steps, seed, batch, rate, config, code)', async () => {
    const task = small(defaultTasks().find((t) => t.name === 'hair_color')!, 4);
    const files = new Map<string, Uint8Array>();
    const store: CheckpointStore = { load: async (n) => files.get(n) ?? null, save: async (n, b) => { files.set(n, b); } };
    (await trainTask(task, { steps: 3, until: 1, store })).dispose();
    // A longer run has another learning-rate schedule: refused, both identities shown.
    await expect(trainTask(task, { steps: 6, store })).rejects.toThrow(/hair_color\.ckpt\.safetensors was made by a different run[\s\S]*steps: checkpoint 3, this run 6[\s\S]*--resume-mismatch/);
    await expect(trainTask({ ...task, seed: task.seed + 1 }, { steps: 3, store })).rejects.toThrow(/seed: checkpoint/);
    await expect(trainTask({ ...task, lr: task.lr * 2 }, { steps: 3, store })).rejects.toThrow(/lr: checkpoint/);
    await expect(trainTask({ ...task, loss: (m, st, n) => task.loss(m, st, n) }, { steps: 3, store })).rejects.toThrow(/codeHash: checkpoint/);
    // The same run resumes; with resumeMismatch another one does too.
    const same = await trainTask(task, { steps: 3, until: 2, store });
    expect(same.state.step).toBe(2);
    same.dispose();
    const forced = await trainTask(task, { steps: 6, until: 3, store, resumeMismatch: true });
    expect(forced.state.step).toBe(3);
    forced.dispose();
  }, 60_000);

  it('a checkpoint whose header length was shifted is refused, not trained on', async () => {
    const task = small(defaultTasks().find((t) => t.name === 'hair_color')!, 4);
    const files = new Map<string, Uint8Array>();
    const store: CheckpointStore = { load: async (n) => files.get(n) ?? null, save: async (n, b) => { files.set(n, b.slice()); } };
    (await trainTask(task, { steps: 3, until: 1, store })).dispose();
    const [name, bytes] = [...files][0];
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    view.setBigUint64(0, view.getBigUint64(0, true) - 4n, true);
    await expect(trainTask(task, { steps: 3, store })).rejects.toThrow(new RegExp(`${name.replace(/\./g, '\\.')}:`));
  }, 60_000);
});
