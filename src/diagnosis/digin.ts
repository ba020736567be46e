// DiG-IN's Algorithm 1 (Augustin et al., "DiG-IN: Diffusion Guidance for Investigating Networks", CVPR
// 2024) as a reusable optimiser: the inputs of a guided DDIM sampler — the start latent z_T and a text
// conditioning C_t and null conditioning ∅_t per step — are optimised with Adam (separate step sizes for
// the latent and the embeddings, cosine-annealed, gradients clipped) so that the decoded image minimises
// an objective, read through random cutouts with noise (test-time augmentation against adversarial
// pixel patterns). The sampler is checkpointed per step, so memory stays about one step's.
// Guidance: DiG-IN writes ε(C) + w·(ε(C) − ε(∅)); cflens samples with ε(∅) + s·(ε(C) − ε(∅)), the same
// for s = w + 1 — `guidance` here takes theirs (w) and converts.
import { backward } from '../autograd/engine.js';
import { noGrad } from '../autograd/grad-mode.js';
import { keep, tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { Adam, clipGradNorm } from '../nn/optim.js';
import { randn } from '../ops/creation.js';
import { add, mul } from '../ops/elementwise.js';
import { interpolate } from '../ops/resample.js';
import { mean } from '../ops/reduce.js';
import { softmax } from '../ops/softmax.js';
import { clone, concat, slice } from '../ops/shape.js';
import { ddimSample } from '../pipelines/sampling.js';
import type { StableDiffusionPipeline } from '../pipelines/stable-diffusion.js';
import { Rng } from '../world/rng.js';

export interface DiginOptions {
  pipe: StableDiffusionPipeline;
  /** The loss to minimise, of decoded images in [-1, 1] ([B·cutouts, 3, H, W]; a 0-d tensor). */
  objective: (images: Tensor) => Tensor;
  prompt: string;
  negativePrompt?: string;
  /** DDIM steps of the sampler (default 20) and DiG-IN's guidance w (default 3: cflens's scale 4). */
  steps?: number;
  guidance?: number;
  /** Optimisation steps (default 20), Adam step sizes of z_T and of the embeddings, gradient clip. */
  iterations?: number;
  lrLatent?: number;
  lrEmbedding?: number;
  clip?: number;
  /** Random cutouts per image read by the objective (default 16; 0: the image itself) and their noise std. */
  cutouts?: number;
  cutoutNoise?: number;
  /** Images optimised together (default 1). */
  batch?: number;
  seed?: number;
  /** Starting latents (e.g. of an inverted real image); default N(0, 1) from the seed. */
  zT?: Tensor;
  /** Starting per-step conditionings (e.g. null-text inversion's ∅_t); default the prompts' encodings. */
  cond?: readonly Tensor[];
  uncond?: readonly Tensor[];
  /** A term added to the objective, of the uncropped sample: its final latents z₀ and its image (UVCE's locality terms). */
  regularizer?: (latents: Tensor, images: Tensor) => Tensor;
  onIteration?: (iteration: number, loss: number) => void;
}

export interface DiginResult {
  /** The final decoded images [B, 3, H, W] in [-1, 1]. */
  images: Tensor;
  /** The objective per iteration (before each update). */
  losses: number[];
  /** The optimised inputs (the caller disposes them). */
  zT: Tensor;
  cond: Tensor[];
  uncond: Tensor[];
}

/** `n` random square crops of every image (sides 60–100% of the image), resized back, plus N(0, noise²). */
export function cutouts(x: Tensor, n: number, noise: number, rng: Rng): Tensor {
  if (n <= 0) return clone(x);
  return tidy(() => {
    const [, , H, W] = x.shape;
    const parts: Tensor[] = [];
    for (let i = 0; i < n; i++) {
      const side = Math.max(2, Math.round(Math.min(H, W) * (0.6 + 0.4 * rng.float())));
      const top = Math.floor(rng.float() * (H - side + 1));
      const left = Math.floor(rng.float() * (W - side + 1));
      const crop = slice(x, [null, null, [top, top + side], [left, left + side]]);
      parts.push(interpolate(crop, { size: [H, W], mode: 'bilinear' }));
    }
    const all = concat(parts, 0);
    return noise > 0 ? add(all, mul(randn(all.shape, { seed: rng.int(2 ** 30) }), noise)) : all;
  });
}

const cosine = (lr: number, i: number, n: number) => lr * 0.5 * (1 + Math.cos((Math.PI * i) / Math.max(1, n)));

export async function digin(o: DiginOptions): Promise<DiginResult> {
  const { pipe } = o;
  const steps = o.steps ?? 20;
  const scale = (o.guidance ?? 3) + 1;
  const B = o.batch ?? 1;
  const rng = new Rng(o.seed ?? 0);
  const size = pipe.unet.config.sample_size;
  const zT = keep(o.zT ? noGrad(() => clone(o.zT!)) : randn([B, pipe.unet.config.in_channels, size, size], { seed: o.seed ?? 0 })).requiresGrad_(true);
  const encode = (p: string) => keep(noGrad(() => tidy(() => {
    const e = pipe.encodePrompt([p]);
    return B === 1 ? e : concat(new Array<Tensor>(B).fill(e), 0);
  })));
  const c0 = encode(o.prompt);
  const u0 = encode(o.negativePrompt ?? '');
  const perStep = (init: readonly Tensor[] | undefined, base: Tensor) =>
    Array.from({ length: steps }, (_, i) => keep(noGrad(() => clone(init?.[i] ?? base))).requiresGrad_(true));
  const cond = perStep(o.cond, c0);
  const uncond = perStep(o.uncond, u0);
  c0.dispose();
  u0.dispose();
  const lrZ = o.lrLatent ?? 0.05;
  const lrE = o.lrEmbedding ?? 0.005;
  const optZ = new Adam([zT], { lr: lrZ });
  const optE = new Adam([...cond, ...uncond], { lr: lrE });
  const iterations = o.iterations ?? 20;
  const losses: number[] = [];
  const sampleWithLatents = () => {
    const r = ddimSample({ unet: pipe.unet, scheduler: pipe.newScheduler(), zT, cond, uncond, guidanceScale: scale, steps });
    return { latents: r.latents, images: tidy(() => pipe.decodeLatents(r.latents)) };
  };
  const sample = () => tidy(() => sampleWithLatents().images);
  for (let it = 0; it < iterations; it++) {
    optZ.zeroGrad();
    optE.zeroGrad();
    const l = tidy(() => {
      const { latents, images: x } = sampleWithLatents();
      let loss = o.objective(cutouts(x, o.cutouts ?? 16, o.cutoutNoise ?? 0.05, rng));
      if (o.regularizer) loss = add(loss, o.regularizer(latents, x));
      backward(loss);
      return loss;
    });
    clipGradNorm([zT], o.clip ?? 1).dispose();
    clipGradNorm([...cond, ...uncond], o.clip ?? 1).dispose();
    optZ.opts.lr = cosine(lrZ, it, iterations);
    optE.opts.lr = cosine(lrE, it, iterations);
    optZ.step();
    optE.step();
    const v = await l.item();
    l.dispose();
    losses.push(v);
    o.onIteration?.(it, v);
  }
  optZ.dispose();
  optE.dispose();
  const images = keep(noGrad(() => sample()));
  for (const t of [zT, ...cond, ...uncond]) t.requiresGrad_(false);
  return { images, losses, zT, cond, uncond };
}

/**
 * Classifier disagreement: images that f assigns to class y and g does not — minimise
 * −(p_f(y | x) − p_g(y | x)) averaged over the cutouts (models take images in [-1, 1]; adapt inside).
 */
export function disagreementObjective(f: (x: Tensor) => Tensor, g: (x: Tensor) => Tensor, y: number): (x: Tensor) => Tensor {
  return (x) => tidy(() => {
    const pf = slice(softmaxRows(f(x)), [null, [y, y + 1]]);
    const pg = slice(softmaxRows(g(x)), [null, [y, y + 1]]);
    return mul(meanAll(add(pf, mul(pg, -1))), -1);
  });
}

/** A neuron (channel) visualisation: maximise the mean activation of channel `c` of a feature map [B, C, h, w]. */
export function neuronObjective(features: (x: Tensor) => Tensor, c: number): (x: Tensor) => Tensor {
  return (x) => tidy(() => mul(meanAll(slice(features(x), [null, [c, c + 1]])), -1));
}

const softmaxRows = (logits: Tensor) => softmax(logits, 1);
const meanAll = (t: Tensor) => mean(t);
