// DiG-IN's universal visual counterfactual explanations (UVCEs): a real image is changed, only where its
// object is, until a classifier assigns it the target class.
//   1. null-text inversion of the image under its caption (z_T and one ∅_t per step);
//   2. the object word's cross-attention maps over the first half of the sampling steps → a mask, thresholded
//      and cleaned (opening: erosion then dilation), grown by dilation and blurred: S (1 on the object);
//   3. Algorithm 1 (digin) from the inverted z_T and ∅_t, minimising
//        −log p_f(y | x) + w_VAE·mean((1 − S)⊙(z₀ − E(x̂)))² + w_PX·mean((1 − S)⊙(D(z₀) − x̂))²
//      (DiG-IN's 25 and 250; means rather than sums, so the weights do not scale with the image size).
import { noGrad } from '../autograd/grad-mode.js';
import { keep, tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { add, mul, square, sub } from '../ops/elementwise.js';
import { logSoftmax } from '../ops/softmax.js';
import { mean } from '../ops/reduce.js';
import { avgPool2d, maxPool2d } from '../ops/pool.js';
import { interpolate } from '../ops/resample.js';
import { clone, narrow, reshape, slice } from '../ops/shape.js';
import { ddimSample } from '../pipelines/sampling.js';
import { TokenMaskAccumulator } from '../pipelines/prompt-to-prompt.js';
import type { StableDiffusionPipeline } from '../pipelines/stable-diffusion.js';
import { digin, type DiginOptions } from './digin.js';
import { disposeInversion } from './lance.js';

type DiginSettings = 'iterations' | 'lrLatent' | 'lrEmbedding' | 'cutouts' | 'cutoutNoise' | 'clip' | 'seed' | 'onIteration';

export interface UvceOptions extends Pick<DiginOptions, DiginSettings> {
  pipe: StableDiffusionPipeline;
  /** Logits of images in [-1, 1]. */
  classifier: (x: Tensor) => Tensor;
  targetClass: number;
  /** The image x̂ [1, 3, H, W] in [-1, 1], its caption, and the caption's word for the object to change. */
  image: Tensor;
  caption: string;
  word: string;
  /** DDIM steps (default 20), DiG-IN's guidance w (default 3), null-text Adam steps per step (default 10). */
  steps?: number;
  guidance?: number;
  innerSteps?: number;
  /** Weights of the latent and pixel locality terms (default 25 and 250; 0 and 0: an unregularised run). */
  wVae?: number;
  wPx?: number;
  /** Mask threshold on the [0, 1]-scaled attention map (default 0.3), dilation passes (default 1), blur (default true). */
  maskThreshold?: number;
  dilate?: number;
  blur?: boolean;
}

export interface UvceResult {
  /** The counterfactual [1, 3, H, W] in [-1, 1]. */
  image: Tensor;
  /** S at the latent resolution [1, 1, h, w] and at the image's [1, 1, H, W], in [0, 1]. */
  mask: Tensor;
  pixelMask: Tensor;
  losses: number[];
  /** Null-text inversion's final loss per step. */
  inversionLosses: number[];
}

/** Position of `word`'s first token in the caption's token ids (BOS at 0), or an error naming both. */
export function wordTokenIndex(pipe: StableDiffusionPipeline, caption: string, word: string): number {
  const [ids, w] = pipe.tokenize([caption, word]);
  const inner = w.slice(1, w.indexOf(pipe.tokenizer.tokenizer.eotId)); // without the start token and the end / padding
  for (let i = 1; i + inner.length <= ids.length; i++) if (inner.length && inner.every((t, k) => ids[i + k] === t)) return i;
  throw new Error(`cflens: UVCE: the word '${word}' is not in the caption '${caption}': give a word of the caption for the object to change`);
}

/** Erosion of a [1, 1, h, w] 0/1 map by a 3×3 square (a minimum filter). */
const erode = (m: Tensor) => sub(1, maxPool2d(sub(1, m), 3, 1, 1));
const dilateOnce = (m: Tensor) => maxPool2d(m, 3, 1, 1);

/**
 * The object mask S from an attention map in [0, 1] ([1, 1, h, w]): thresholded, opened (erosion then dilation:
 * specks go), dilated, blurred. An opening that removes everything (an object a latent pixel wide) is skipped.
 */
export async function objectMask(attention: Tensor, o: { threshold?: number; dilate?: number; blur?: boolean } = {}): Promise<Tensor> {
  const m0 = keep(noGrad(() => attention.gt(o.threshold ?? 0.3)));
  const opened = keep(noGrad(() => tidy(() => dilateOnce(erode(m0)))));
  const kept = (await noGrad(() => opened.sum()).item()) > 0;
  const out = noGrad(() => tidy(() => {
    let m = kept ? opened : m0;
    for (let i = 0; i < (o.dilate ?? 1); i++) m = dilateOnce(m);
    return (o.blur ?? true) ? avgPool2d(m, 3, 1, 1, { countIncludePad: false }) : clone(m);
  }));
  m0.dispose();
  opened.dispose();
  return out;
}

export async function uvce(o: UvceOptions): Promise<UvceResult> {
  const { pipe } = o;
  const steps = o.steps ?? 20;
  const scale = (o.guidance ?? 3) + 1;
  const token = wordTokenIndex(pipe, o.caption, o.word);
  const inv = await pipe.nullTextInversion({ image: o.image, prompt: o.caption, steps, guidanceScale: scale, innerSteps: o.innerSteps ?? 10 });
  const zT = inv.trajectory[inv.trajectory.length - 1];
  const z0 = inv.trajectory[0];
  const size = zT.shape.slice(2) as [number, number];
  // The object word's cross-attention (the conditional half of each guided batch) over the first half of the steps.
  const acc = new TokenMaskAccumulator(token, size);
  const cond = keep(noGrad(() => pipe.encodePrompt([o.caption])));
  noGrad(() => tidy(() => {
    ddimSample({
      unet: pipe.unet, scheduler: pipe.newScheduler(), zT, cond, uncond: inv.nullEmbeddings, guidanceScale: scale, steps, checkpointSteps: false,
      attentionHook: (i) => (i < steps / 2 ? (probs, call) => {
        if (!call.isCross) return;
        const c = narrow(probs, 0, probs.shape[0] - 1, 1); // [B, heads, Lq, Lk]: the guided batch is [∅, c]
        acc.add(reshape(c, c.shape.slice(1)), call);
      } : null),
    });
  }));
  const attention = keep(noGrad(() => acc.mask()));
  acc.dispose();
  const mask = keep(await objectMask(attention, { threshold: o.maskThreshold, dilate: o.dilate, blur: o.blur }));
  attention.dispose();
  const [H, W] = o.image.shape.slice(2);
  const pixelMask = keep(noGrad(() => interpolate(mask, { size: [H, W], mode: 'bilinear' })));
  const outside = keep(noGrad(() => sub(1, mask)));
  const outsidePx = keep(noGrad(() => sub(1, pixelMask)));
  const [wVae, wPx] = [o.wVae ?? 25, o.wPx ?? 250];
  const y = o.targetClass;
  const r = await digin({
    pipe, prompt: o.caption, steps, guidance: o.guidance ?? 3, zT, uncond: inv.nullEmbeddings,
    iterations: o.iterations, lrLatent: o.lrLatent, lrEmbedding: o.lrEmbedding, cutouts: o.cutouts, cutoutNoise: o.cutoutNoise, clip: o.clip, seed: o.seed,
    objective: (x) => tidy(() => mul(mean(slice(logSoftmax(o.classifier(x), 1), [null, [y, y + 1]])), -1)),
    regularizer: wVae || wPx
      ? (latents, x) => tidy(() => add(
        mul(mean(square(mul(sub(latents, z0), outside))), wVae),
        mul(mean(square(mul(sub(x, o.image), outsidePx))), wPx),
      ))
      : undefined,
    onIteration: o.onIteration,
  });
  for (const t of [r.zT, ...r.cond, ...r.uncond, cond, outside, outsidePx]) t.dispose();
  const inversionLosses = inv.losses;
  disposeInversion(inv);
  return { image: r.images, mask, pixelMask, losses: r.losses, inversionLosses };
}
