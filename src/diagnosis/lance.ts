// LANCE's image side: a real image and a caption edit become a counterfactual image — null-text inversion
// of the image under its caption (guidance 7.5), then prompt-to-prompt sampling of [source, edit] from the
// inverted latent with the optimised ∅_t: cross-attention replaced for the first `crossReplace` of the
// steps (0.8), self-attention for a fraction chosen per edit from `selfReplace` by a score (LANCE's Eq. 2:
// the CLIP directional similarity of the image change with the caption change), optionally blended locally
// by the edited token's attention mask.
import { noGrad } from '../autograd/grad-mode.js';
import { keep, tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { add, mul, sub } from '../ops/elementwise.js';
import { concat, narrow } from '../ops/shape.js';
import { ddimSample } from '../pipelines/sampling.js';
import { promptToPromptHook, type P2PMode } from '../pipelines/prompt-to-prompt.js';
import type { StableDiffusionPipeline } from '../pipelines/stable-diffusion.js';
import type { NullTextResult } from '../pipelines/null-text.js';

export interface LanceEditOptions {
  pipe: StableDiffusionPipeline;
  /** One image [1, 3, H, W] in [-1, 1]. */
  image: Tensor;
  caption: string;
  edited: string;
  /** DDIM steps (the paper: 50; the world: fewer), guidance, null-text inner steps. */
  steps?: number;
  guidanceScale?: number;
  innerSteps?: number;
  crossReplace?: number;
  /** Self-attention fractions tried (default [0.2, 0.4, 0.6, 0.8]); the best by `score` is kept. */
  selfReplace?: readonly number[];
  /** Higher is better: e.g. the CLIP directional similarity of (edit − source) with (edited − caption). */
  score?: (source: Tensor, edit: Tensor) => Promise<number>;
  /** The image's null-text inversion under `caption` (lanceInversion), shared by all edits of one image. */
  inversion?: NullTextResult;
}

export interface LanceEditResult {
  /** The reconstruction of the image (the source branch) and the counterfactual, [1, 3, H, W] each. */
  source: Tensor;
  edit: Tensor;
  selfReplace: number;
  score: number | null;
  /** Null-text inversion's final loss per step. */
  inversionLosses: number[];
}

/** Prompt-to-prompt's mode for two captions: a word swap when their token counts match, else a refinement. */
export function p2pMode(pipe: StableDiffusionPipeline, caption: string, edited: string): P2PMode {
  const [a, b] = pipe.tokenize([caption, edited]);
  const end = pipe.tokenizer.tokenizer.eotId;
  return a.indexOf(end) === b.indexOf(end) ? { kind: 'replace' } : { kind: 'refine', sourceIds: a, editIds: b };
}

/** Null-text inversion of one image under its caption, as lanceEdit does it (the caller disposes it). */
export function lanceInversion(o: Pick<LanceEditOptions, 'pipe' | 'image' | 'caption' | 'steps' | 'guidanceScale' | 'innerSteps'>): Promise<NullTextResult> {
  return o.pipe.nullTextInversion({ image: o.image, prompt: o.caption, steps: o.steps ?? 50, guidanceScale: o.guidanceScale ?? 7.5, innerSteps: o.innerSteps });
}

/** Frees an inversion's tensors. */
export function disposeInversion(inv: NullTextResult): void {
  for (const t of [...inv.nullEmbeddings, ...inv.trajectory]) t.dispose();
}

export async function lanceEdit(o: LanceEditOptions): Promise<LanceEditResult> {
  const { pipe } = o;
  const steps = o.steps ?? 50;
  const scale = o.guidanceScale ?? 7.5;
  const inv = o.inversion ?? await lanceInversion(o);
  const zT = inv.trajectory[inv.trajectory.length - 1];
  const conds = keep(noGrad(() => pipe.encodePrompt([o.caption, o.edited])));
  const uncond = inv.nullEmbeddings.map((u) => keep(noGrad(() => concat([u, u], 0))));
  const z2 = keep(noGrad(() => concat([zT, zT], 0)));
  const mode = p2pMode(pipe, o.caption, o.edited);
  let best: { source: Tensor; edit: Tensor; self: number; score: number | null } | null = null;
  for (const self of o.selfReplace ?? [0.2, 0.4, 0.6, 0.8]) {
    const hook = promptToPromptHook({ mode, steps, crossReplace: o.crossReplace ?? 0.8, selfReplace: self });
    const pixels = noGrad(() => {
      const r = ddimSample({
        unet: pipe.unet, scheduler: pipe.newScheduler(), zT: z2, cond: conds, uncond, guidanceScale: scale, steps, attentionHook: hook, checkpointSteps: false,
      });
      const x = pipe.decodeLatents(r.latents);
      r.latents.dispose();
      return x;
    });
    const source = keep(tidy(() => narrow(pixels, 0, 0, 1)));
    const edit = keep(tidy(() => narrow(pixels, 0, 1, 1)));
    pixels.dispose();
    const score = o.score ? await o.score(source, edit) : null;
    if (!best || (score !== null && best.score !== null && score > best.score)) {
      if (best) for (const t of [best.source, best.edit]) t.dispose();
      best = { source, edit, self, score };
    } else {
      source.dispose();
      edit.dispose();
    }
    if (!o.score) break;
  }
  for (const t of [conds, z2, ...uncond]) t.dispose();
  if (!o.inversion) disposeInversion(inv);
  return { source: best!.source, edit: best!.edit, selfReplace: best!.self, score: best!.score, inversionLosses: inv.losses };
}

/** LANCE's Eq. 2: cos(E_I(edit) − E_I(source), E_T(edited) − E_T(caption)) from unit embeddings (rows). */
export function directionalSimilarity(imageSource: Tensor, imageEdit: Tensor, textSource: Tensor, textEdit: Tensor): Tensor {
  return tidy(() => {
    const di = sub(imageEdit, imageSource);
    const dt = sub(textEdit, textSource);
    const dot = mul(di, dt).sum();
    const n = mul(mul(di, di).sum().sqrt(), mul(dt, dt).sum().sqrt());
    return mul(dot, add(n, 1e-12).reciprocal());
  });
}
