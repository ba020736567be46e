// ZOOM's weight optimisation on the shipped world DDPM and smile_blond, at test size: two attribute
// directions, SGD and PGD within ±ε, the sensitivity histogram and the flip rates as attributes are added.
import { beforeAll, describe, expect, it } from 'vitest';
import { DDIMScheduler, SmallConvNet, UNet2DModel, add, backward, fromArray, mul, noGrad, randn, tidy, zeros, type Tensor } from '../../src/index.js';
import { classifierTarget, keypointTarget, segmenterTarget, type DiagnosisTarget } from '../../src/diagnosis/targets.js';
import { ddpmHSpaceGenerator, type HSpaceGenerator } from '../../src/diagnosis/generators.js';
import { zoomCounterfactuals, zoomFlipRates, zoomSensitivity, type ZoomOptions } from '../../src/diagnosis/zoom.js';
import { Rng, sampleAttributes } from '../../src/world/index.js';
import { readJsonFile } from '../../src/models/pretrained.js';
import { setupGpu } from '../helpers/gpu.js';
import { worldImages } from '../helpers/world-images.js';

const N = 2;
let images: Tensor;
let gen: HSpaceGenerator;
let target: DiagnosisTarget;
let base: Omit<ZoomOptions, 'method'>;

beforeAll(async () => {
  await setupGpu();
  const rng = new Rng(9);
  images = worldImages(Array.from({ length: N }, () => sampleAttributes(rng)));
  const unet = await UNet2DModel.fromPretrained('models/defaults/ddpm');
  unet.eval();
  const scheduler = new DDIMScheduler(await readJsonFile('models/defaults/ddpm', 'scheduler_config.json'));
  const clf = await SmallConvNet.fromPretrained('models/defaults/smile_blond');
  clf.eval();
  for (const p of [...unet.parameters(), ...clf.parameters()]) p.requiresGrad_(false);
  target = classifierTarget('smile_blond', (x) => clf.forward(mul(add(x, 1), 0.5)));
  gen = ddpmHSpaceGenerator(unet, scheduler, { steps: 5, invertSteps: 2 });
  // Two directions: a random one, and the steepest descent of L_target at Δh = 0 (the histogram must rank it first).
  const random = noGrad(() => randn(gen.hShape, { seed: 1 }));
  const d0 = zeros(gen.hShape).requiresGrad_(true);
  const out0 = noGrad(() => target.forward(images));
  const goal = await target.goal(out0);
  const z = gen.invert(images);
  backward(tidy(() => target.loss(target.forward(gen.decode(z, d0)), goal)));
  const descent = noGrad(() => tidy(() => mul(d0.grad!, -1)));
  for (const t of [out0, z, d0]) t.dispose();
  base = { generator: gen, target, images, directions: [{ attribute: 'random', delta: random }, { attribute: 'descent', delta: descent }], steps: 2 };
});

describe('ZOOM', () => {
  it('SGD keeps every weight within ±ε; PGD takes signed steps of its step size', async () => {
    const sgd = await zoomCounterfactuals({ ...base, method: 'sgd', epsilon: 0.5 }, [0, 1]);
    expect(sgd.weights).toHaveLength(N);
    for (const w of sgd.weights.flat()) expect(Math.abs(w)).toBeLessThanOrEqual(0.5 + 1e-6);
    expect(sgd.weights.flat().some((w) => w !== 0)).toBe(true);
    const pgd = await zoomCounterfactuals({ ...base, method: 'pgd', epsilon: 1, lr: 0.25 }, [1]);
    for (const [w] of pgd.weights) expect(Math.abs(w * 4 - Math.round(w * 4))).toBeLessThan(1e-5); // multiples of 0.25
    for (const s of [...sgd.ssim, ...pgd.ssim]) expect(s).toBeGreaterThan(0);
    expect(pgd.progress).toHaveLength(N);
    const broken = classifierTarget('broken', (x) => mul(target.forward(x), NaN));
    await expect(zoomCounterfactuals({ ...base, target: broken, steps: 1 }, [1])).rejects.toThrow(/zoom \[descent\] images 1–2, step 1: the loss is NaN/);
  }, 120_000);

  it('the sensitivity histogram sums to one and ranks the direction that moves the target first; flip rates per attribute count', async () => {
    const hist = await zoomSensitivity({ ...base, epsilon: 2 });
    expect(hist.map((h) => h.attribute)).toEqual(['descent', 'random']);
    expect(hist.reduce((a, h) => a + h.share, 0)).toBeCloseTo(1, 5);
    const rates = await zoomFlipRates({ ...base, epsilon: 2, steps: 2 }, ['descent', 'random']);
    expect(rates.map((r) => r.attributes.length)).toEqual([1, 2]);
    for (const r of rates) expect(r.flipRate).toBeGreaterThanOrEqual(0);
    await expect(zoomFlipRates(base, ['glasses'])).rejects.toThrow(/no direction for attribute 'glasses' \(have random, descent\)/);
  }, 180_000);
});

describe('target progress', () => {
  it('classes: 0 at the original outputs and rising as p(original class) falls; keypoints 1 at the goal; segmentation the changed share', async () => {
    const logits = noGrad(() => randn([3, 4], { seed: 7 }));
    const c = classifierTarget('c', (x) => x);
    const g = await c.goal(logits);
    expect((await c.progress(logits, g)).every((v) => Math.abs(v) < 1e-6)).toBe(true);
    const moved = noGrad(() => tidy(() => add(logits, mul(randn([3, 4], { seed: 8 }), 3))));
    const p = await c.progress(moved, g);
    expect(p.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    const k = keypointTarget('k', (x) => x, { seed: 1 });
    const pts = noGrad(() => randn([2, 10], { seed: 9 }));
    const gk = await k.goal(pts);
    const atGoal = fromArray(Float32Array.from(gk.goal.flatMap((v) => [...v])), [2, 10]);
    for (const v of await k.progress(atGoal, gk)) expect(v).toBeCloseTo(1, 5);
    const s = segmenterTarget('s', (x) => x);
    const seg = noGrad(() => randn([1, 3, 4, 4], { seed: 10 }));
    const gs = await s.goal(seg);
    expect(await s.progress(seg, gs)).toEqual([0]);
    for (const t of [logits, moved, pts, atGoal, seg]) t.dispose();
  });
});
