// ZOOM's attribute directions in h-space. StyleCLIP's channel relevance has no h-space equivalent, so
// each attribute gets one Δh_i learned with a CLIP directional loss (as StyleGAN-NADA / Asyrp train their
// edits): the change of the CLIP image embedding between the decoded image and its Δh_i-edited version
// should point along Δt_i = E_T(template ⊕ a_i) − E_T(template), while the edit keeps the image's
// structure (SSIM). ZOOM then optimises weights over the normalised Δh_i.
//   L = mean_n (1 − cos(E_I(D(z_n, Δh)) − E_I(D(z_n)), Δt_i)) + γ·(1 − SSIM(D(z, Δh), D(z)))
import { noGrad } from '../autograd/grad-mode.js';
import { backward } from '../autograd/engine.js';
import { keep, tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import type { CLIPModel } from '../models/clip/clip-model.js';
import { Adam } from '../nn/optim.js';
import { fromArray, randn } from '../ops/creation.js';
import { add, mul, sub } from '../ops/elementwise.js';
import { cosineSimilarity } from '../ops/loss.js';
import { mean } from '../ops/reduce.js';
import { ssim } from '../ops/ssim.js';
import { clipImageFeatures } from './clip-regularizer.js';
import type { HSpaceGenerator } from './generators.js';

export interface DirectionOptions {
  generator: HSpaceGenerator;
  clip: CLIPModel;
  /** Latents of the images the direction is learned on (generator.invert). */
  latents: Tensor;
  /** Δt_i of the attribute ([D], e.g. from bankDirections or textDirections). */
  textDirection: Float32Array;
  steps?: number;
  lr?: number;
  /** Weight of 1 − SSIM to the unedited decoding (default 1). */
  gamma?: number;
  seed?: number;
  onStep?: (step: number, directional: number) => void;
}

export interface LearnedDirection {
  /** Δh [1, C, h, w] (the caller disposes it). */
  delta: Tensor;
  /** Mean directional cosine before the first and after the last step. */
  cosineBefore: number;
  cosineAfter: number;
}

/** Learns one attribute's Δh on the given latents by Adam on the CLIP directional loss. */
export async function learnDirection(o: DirectionOptions): Promise<LearnedDirection> {
  const { generator: gen, clip } = o;
  const base = keep(noGrad(() => tidy(() => gen.decode(o.latents, null))));
  const baseEmb = keep(noGrad(() => tidy(() => clipImageFeatures(clip, base))));
  const dt = keep(fromArray(o.textDirection, [1, o.textDirection.length], { ctx: o.latents.ctx }));
  const delta = keep(noGrad(() => mul(randn(gen.hShape, { seed: o.seed ?? 0 }), 0.01)));
  delta.requiresGrad_(true);
  const opt = new Adam([delta], { lr: o.lr ?? 0.02 });
  const cosine = () => noGrad(() => tidy(() => mean(cosineSimilarity(sub(clipImageFeatures(clip, gen.decode(o.latents, delta)), baseEmb), dt, 1))));
  const c0 = cosine();
  const cosineBefore = await c0.item();
  c0.dispose();
  const steps = o.steps ?? 20;
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    const [loss, dir] = tidy(() => {
      const edited = gen.decode(o.latents, delta);
      const directional = mean(cosineSimilarity(sub(clipImageFeatures(clip, edited), baseEmb), dt, 1));
      return [add(sub(1, directional), mul(sub(1, ssim(edited, base, { dataRange: 2 })), o.gamma ?? 1)), directional];
    });
    backward(loss);
    opt.step();
    o.onStep?.(s, await dir.item());
    loss.dispose();
    dir.dispose();
  }
  const c1 = cosine();
  const cosineAfter = await c1.item();
  c1.dispose();
  for (const t of [base, baseEmb, dt]) t.dispose();
  delta.requiresGrad_(false);
  return { delta, cosineBefore, cosineAfter };
}
