// UMO's edit search on the shipped world DDPM and the smile_blond classifier, at test size: k edits in
// h-space, winner-take-all assignment, each edit optimised on its own images.
import { beforeAll, describe, expect, it } from 'vitest';
import { DDIMScheduler, SmallConvNet, UNet2DModel, add, fromArray, mul, noGrad, tidy, type Tensor } from '../../src/index.js';
import { classifierTarget } from '../../src/diagnosis/targets.js';
import { umo } from '../../src/diagnosis/umo.js';
import { readUmoState, umoStateBytes, type UmoState } from '../../src/diagnosis/umo-state.js';
import { ddpmHSpaceGenerator } from '../../src/diagnosis/generators.js';
import { Rng, render, sampleAttributes } from '../../src/world/index.js';
import { readJsonFile } from '../../src/models/pretrained.js';
import { setupGpu } from '../helpers/gpu.js';

const N = 4;
let images: Tensor;

beforeAll(async () => {
  await setupGpu();
  const rng = new Rng(9);
  const data = new Float32Array(N * 3 * 32 * 32);
  for (let i = 0; i < N; i++) data.set(render(sampleAttributes(rng), { size: 32, seed: i, range: 'pm1' }).image, i * 3 * 32 * 32);
  images = fromArray(data, [N, 3, 32, 32]);
});

describe('UMO', () => {
  it('k edits in h-space: every image is assigned an edit, and the edits lower L_target below the unedited reconstruction', async () => {
    const unet = await UNet2DModel.fromPretrained('models/defaults/ddpm');
    unet.eval();
    const scheduler = new DDIMScheduler(await readJsonFile('models/defaults/ddpm', 'scheduler_config.json'));
    const clf = await SmallConvNet.fromPretrained('models/defaults/smile_blond');
    clf.eval();
    for (const p of [...unet.parameters(), ...clf.parameters()]) p.requiresGrad_(false);
    const target = classifierTarget('smile_blond', (x) => clf.forward(mul(add(x, 1), 0.5))); // trained on [0, 1]
    const gen = ddpmHSpaceGenerator(unet, scheduler, { steps: 5, invertSteps: 2 });
    expect(gen.hShape[0]).toBe(1);
    const r = await umo({ generator: gen, target, images, k: 2, iterations: 3, batchSize: N, lr: 0.05, seed: 1 });
    expect(r.history).toHaveLength(3);
    for (const h of r.history) expect(h.images.reduce((a, b) => a + b, 0)).toBe(N);
    expect(r.assignment).toHaveLength(N);
    const z = gen.invert(images);
    const out0 = noGrad(() => tidy(() => target.forward(images)));
    const goal = await target.goal(out0);
    const lossWith = async (d: Tensor | null, ids: number[]) => {
      if (!ids.length) return 0;
      const l = noGrad(() => tidy(() => {
        const zs = z.indexSelect(0, fromArray(Int32Array.from(ids), [ids.length]));
        const sub = { original: ids.map((i) => goal.original[i]), goal: ids.map((i) => goal.goal[i]) };
        return target.loss(target.forward(gen.decode(zs, d)), sub);
      }));
      return (await l.item()) * ids.length;
    };
    let edited = 0;
    for (let j = 0; j < 2; j++) edited += await lossWith(r.directions[j], r.assignment.flatMap((w, i) => (w === j ? [i] : [])));
    const plain = await lossWith(null, [0, 1, 2, 3]);
    // Random directions of size 0.01 change L_target by well under 1%; three Adam passes cut it by ~10%.
    expect(edited / N).toBeLessThan(0.95 * (plain / N));
    // Two passes in one go, or one pass, its state through bytes, and a resumed second: the same directions.
    const two = images.narrow(0, 0, 2);
    const straight = await umo({ generator: gen, target, images: two, k: 1, iterations: 2, batchSize: 2, seed: 3 });
    let stored: Uint8Array | null = null;
    const onPass = async (st: UmoState) => { stored = umoStateBytes(st); };
    const half = await umo({ generator: gen, target, images: two, k: 1, iterations: 1, batchSize: 2, seed: 3, onPass });
    const resume = await readUmoState(stored!, 'state');
    const resumed = await umo({ generator: gen, target, images: two, k: 1, iterations: 2, batchSize: 2, seed: 3, resume });
    expect(resumed.history).toHaveLength(2);
    expect(Array.from(await resumed.directions[0].toArray())).toEqual(Array.from(await straight.directions[0].toArray()));
    expect(resumed.history[1]).toEqual(straight.history[1]);
    for (const d of [...straight.directions, ...half.directions, ...resumed.directions]) d.dispose();
    // A target that yields NaN stops the search at its first step, named, instead of poisoning the edits.
    const broken = classifierTarget('broken', (x) => mul(clf.forward(mul(add(x, 1), 0.5)), NaN));
    await expect(umo({ generator: gen, target: broken, images, k: 1, iterations: 1, batchSize: N })).rejects.toThrow(/umo pass 1, edit 1: the loss is NaN/);
  }, 120_000);
});
