// One training step of each default model type decreases its loss on the same batch; a resumed run
// is identical to an uninterrupted one.
import { beforeAll, describe, expect, it } from 'vitest';
import { backward, tidy, type Module } from '../../src/index.js';
import { defaultTasks, optimizerFor, type DefaultTask } from '../../src/train/tasks.js';
import { trainTask, learningRate, type CheckpointStore } from '../../src/train/trainer.js';
import { setupGpu } from '../helpers/gpu.js';

beforeAll(async () => { await setupGpu(); });

function small(task: DefaultTask, batchSize: number): DefaultTask {
  return Object.assign(Object.create(Object.getPrototypeOf(task)), task, { batchSize });
}

async function lossAt(task: DefaultTask, model: Module, step: number): Promise<number> {
  const l = tidy(() => task.loss(model, step));
  const v = await l.item();
  l.dispose();
  return v;
}

const BATCH: Record<string, number> = { ddpm: 2, clip: 8, segmenter: 4 };

describe('default model training', () => {
  for (const base of defaultTasks()) {
    it(`one step decreases the loss: ${base.name} (${base.kind})`, async () => {
      const task = small(base, BATCH[base.kind] ?? 8);
      const { model } = task.build();
      model.train();
      // the learning rate of the first step of the real schedule (the warm-up's first)
      const opt = optimizerFor(model, learningRate(task.lr, 0, task.steps));
      const before = await lossAt(task, model, 0);
      const l = tidy(() => {
        const x = task.loss(model, 0);
        backward(x);
        return x;
      });
      l.dispose();
      opt.step();
      const after = await lossAt(task, model, 0);
      expect(Number.isFinite(before)).toBe(true);
      expect(after).toBeLessThan(before);
      opt.dispose();
      model.dispose();
    }, 60_000);
  }

  it('learning rate: warm-up then cosine to 10%', () => {
    expect(learningRate(1, 0, 100)).toBeCloseTo(0.2);
    expect(learningRate(1, 4, 100)).toBeCloseTo(1);
    expect(learningRate(1, 99, 100)).toBeGreaterThan(0.09);
    expect(learningRate(1, 99, 100)).toBeLessThan(0.11);
  });

  it('a resumed run ends with the weights of an uninterrupted one', async () => {
    const task = small(defaultTasks().find((t) => t.name === 'probe')!, 4);
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
});
