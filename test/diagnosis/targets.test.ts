// L_target of UMO on the shipped world models: goals computed as the method defines them, and a few
// sign-gradient steps on the pixels lower each target's loss and move its prediction towards the goal.
import { beforeAll, describe, expect, it } from 'vitest';
import { SignSGD, SmallConvNet, SmallSegmenter, add, backward, fromArray, keep, mul, tidy, type Tensor } from '../../src/index.js';
import { classifierTarget, keypointTarget, segmenterTarget, type DiagnosisTarget } from '../../src/diagnosis/targets.js';
import { Rng, render, sampleAttributes } from '../../src/world/index.js';
import { setupGpu } from '../helpers/gpu.js';

const N = 4;
/** The world models were trained on [0, 1] pixels; the diagnosis hands targets [-1, 1]. */
const to01 = (x: Tensor) => mul(add(x, 1), 0.5);
const SIZE = 32;
let pixels: Float32Array;

beforeAll(async () => {
  await setupGpu();
  const rng = new Rng(5);
  pixels = new Float32Array(N * 3 * SIZE * SIZE);
  for (let i = 0; i < N; i++) pixels.set(render(sampleAttributes(rng), { size: SIZE, seed: i, range: 'pm1' }).image, i * 3 * SIZE * SIZE);
});

/** Loss before and after `steps` sign-gradient steps on the pixels, and the flips at the end. */
async function attack(t: DiagnosisTarget, steps: number, lr: number) {
  const x = fromArray(pixels, [N, 3, SIZE, SIZE], { requiresGrad: true });
  const out0 = keep(tidy(() => t.forward(x)));
  const goal = await t.goal(out0);
  out0.dispose();
  const opt = new SignSGD([x], { lr });
  const losses: number[] = [];
  for (let s = 0; s <= steps; s++) {
    opt.zeroGrad();
    const loss = keep(tidy(() => t.loss(t.forward(x), goal)));
    losses.push(await loss.item());
    if (s < steps) {
      backward(loss);
      opt.step();
    }
    loss.dispose();
  }
  const out = keep(tidy(() => t.forward(x)));
  const flipped = await t.flipped(out, goal);
  out.dispose();
  x.dispose();
  return { goal, first: losses[0], last: losses[steps], flipped };
}

describe('diagnosis targets', () => {
  it('classifier (smile_blond): the goal is the other class; pixel steps flip every face', async () => {
    const m = await SmallConvNet.fromPretrained('models/defaults/smile_blond');
    m.eval();
    const r = await attack(classifierTarget('smile_blond', (x: Tensor) => m.forward(to01(x))), 10, 0.02);
    for (let n = 0; n < N; n++) expect(r.goal.goal[n][0]).toBe(1 - r.goal.original[n][0]);
    expect(r.last).toBeLessThan(r.first);
    expect(r.flipped.every(Boolean)).toBe(true);
  }, 60_000);

  it('keypoints: the goal is a similarity transform of the prediction; pixel steps move towards it', async () => {
    const m = await SmallConvNet.fromPretrained('models/defaults/keypoints');
    m.eval();
    const r = await attack(keypointTarget('keypoints', (x: Tensor) => m.forward(to01(x)), { seed: 3 }), 10, 0.004);
    for (let n = 0; n < N; n++) {
      const [p, q] = [r.goal.original[n], r.goal.goal[n]];
      const dist = (v: Float32Array, i: number, j: number) => Math.hypot(v[2 * i] - v[2 * j], v[2 * i + 1] - v[2 * j + 1]);
      const ratios = [[0, 1], [0, 2], [1, 3], [2, 4], [3, 4]].map(([i, j]) => dist(q, i, j) / dist(p, i, j));
      for (const k of ratios) expect(k).toBeCloseTo(ratios[0], 4); // one scale for every pair: a similarity
      expect(Math.abs(ratios[0] - 1)).toBeLessThanOrEqual(0.1 + 1e-6);
    }
    expect(r.last).toBeLessThan(0.7 * r.first);
    expect(r.flipped.filter(Boolean).length).toBeGreaterThanOrEqual(N / 2);
  }, 60_000);

  it('segmenter: the goal is every pixel\'s second class; pixel steps lower its cross-entropy', async () => {
    const m = await SmallSegmenter.fromPretrained('models/defaults/segmenter');
    m.eval();
    const r = await attack(segmenterTarget('segmenter', (x: Tensor) => m.forward(to01(x))), 10, 0.02);
    for (let n = 0; n < N; n++) expect(r.goal.goal[n].every((c, p) => c !== r.goal.original[n][p])).toBe(true);
    expect(r.last).toBeLessThan(r.first);
  }, 60_000);

  it('outputs of the wrong rank are named', async () => {
    const t = segmenterTarget('seg', (x) => x);
    await expect(t.goal(fromArray([1, 2], [1, 2]))).rejects.toThrow(/target seg: expected logits \[N, C, H, W\] of rank 4, got shape \[1, 2\]/);
  });
});
