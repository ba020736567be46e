// UMO's L_CLIP and the CLIP pixel adaptation, handled once for every method: generators give NCHW
// images in [-1, 1]; CLIP's image tower wants its own size and pixel statistics.
//   L_CLIP = CE(softmax(zero-shot logits of the edit), softmax(zero-shot logits of the original))
// over prompts of the labelled attribute's values: it keeps a counterfactual from changing the very
// attribute the target is labelled with (the flip must come from something else).
import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import type { CLIPModel } from '../models/clip/clip-model.js';
import { l2normalize } from '../models/clip/clip-model.js';
import { fromArray } from '../ops/creation.js';
import { cast } from '../ops/cast.js';
import { add, exp, mul } from '../ops/elementwise.js';
import { crossEntropy } from '../ops/loss.js';
import { matmul } from '../ops/matmul.js';
import { interpolate } from '../ops/resample.js';
import { transpose } from '../ops/shape.js';
import { softmax } from '../ops/softmax.js';

/** transformers' CLIPImageProcessor statistics (OpenAI CLIP). */
export const OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** Images in [-1, 1] as the CLIP image tower takes them: resized (bilinear) and in its pixel range. Differentiable. */
export function clipPixels(clip: CLIPModel, x: Tensor): Tensor {
  if (x.ndim !== 4 || x.shape[1] !== 3) throw new Error(`cflens: clipPixels: expected images [N, 3, H, W] in [-1, 1], got [${x.shape.join(', ')}]`);
  const size = clip.config.vision_config.image_size;
  return tidy(() => {
    const sized = x.shape[2] === size && x.shape[3] === size ? x : interpolate(x, { size, mode: 'bilinear' });
    if (clip.config.pixel_range === 'pm1') return sized;
    const col = (v: readonly number[]) => fromArray(Float32Array.from(v), [1, 3, 1, 1], { ctx: x.ctx });
    const shift = OPENAI_CLIP_MEAN.map((m, c) => (1 - 2 * m) / (2 * OPENAI_CLIP_STD[c])); // ((x + 1) / 2 − m) / s
    return add(mul(sized, col(OPENAI_CLIP_STD.map((s) => 1 / (2 * s)))), col(shift));
  });
}

/** Unit CLIP image features [N, D] of images in [-1, 1]; differentiable. */
export function clipImageFeatures(clip: CLIPModel, x: Tensor): Tensor {
  return tidy(() => l2normalize(clip.getImageFeatures(clipPixels(clip, x))));
}

/** Unit text features [P, D] of prompts (e.g. one per value of the labelled attribute), no gradient. */
export function promptFeatures(clip: CLIPModel, ids: readonly (readonly number[])[]): Tensor {
  return noGrad(() => tidy(() => l2normalize(clip.getTextFeatures(ids.map((r) => [...r])))));
}

/** Zero-shot logits [N, P]: the CLIP logit scale times the cosine of each image with each prompt. */
export function zeroShotLogits(clip: CLIPModel, prompts: Tensor, x: Tensor): Tensor {
  return tidy(() => {
    return mul(matmul(clipImageFeatures(clip, x), transpose(prompts, 0, 1)), exp(cast(clip.logit_scale, 'f32')));
  });
}

/** L_CLIP (0-d): cross-entropy of the edit's zero-shot prediction against the original's (a fixed target). */
export function clipConsistencyLoss(clip: CLIPModel, prompts: Tensor, original: Tensor, edited: Tensor): Tensor {
  return tidy(() => {
    const target = noGrad(() => softmax(zeroShotLogits(clip, prompts, original), 1));
    return crossEntropy(zeroShotLogits(clip, prompts, edited), target);
  });
}

/** Zero-shot probabilities [N, P] (for reports and checks), no gradient. */
export function zeroShotProbs(clip: CLIPModel, prompts: Tensor, x: Tensor): Tensor {
  return noGrad(() => tidy(() => softmax(zeroShotLogits(clip, prompts, x), 1)));
}
