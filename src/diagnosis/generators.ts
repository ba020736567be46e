// The generators the diagnosis methods edit through, as h-space generators: real images are inverted
// part way to latents, and decoding takes an Asyrp edit Δh of the UNet's mid-block output at every
// step (x0 from the edited ε, the direction from the original ε), checkpointed per step.
//   ddpmHSpaceGenerator:   a pixel-space diffusers UNet2DModel (the world DDPM);
//   latentHSpaceGenerator: a Stable Diffusion pipeline (world-sd or a converted SD 1.x folder) in its
//                          unconditional mode (the empty prompt): encode → invert → edit → decode.
import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import type { UNet2DModel } from '../models/diffusers/unet-2d.js';
import { zeros } from '../ops/creation.js';
import { broadcastTo, concat } from '../ops/shape.js';
import { denoise } from '../pipelines/denoise.js';
import { epsOriginalAndEdited } from '../pipelines/hspace.js';
import { invertPartially, roundTripTimesteps } from '../pipelines/sampling.js';
import type { StableDiffusionPipeline } from '../pipelines/stable-diffusion.js';
import type { DDIMScheduler } from '../schedulers/ddim.js';

/** A generator whose decoding takes an h-space edit. */
export interface HSpaceGenerator {
  /** Shape of one Δh ([1, C, h, w]), broadcast over a batch. */
  readonly hShape: number[];
  /** Real images → the latents decoding starts from (no gradient). */
  invert(x: Tensor): Tensor;
  /** Latents → images with Δh added at every decoding step (Asyrp), differentiable in Δh; null: no edit. */
  decode(z: Tensor, delta: Tensor | null): Tensor;
  /** Frees what the generator holds (not the models it wraps). */
  dispose?(): void;
}

/**
 * The world DDPM (or any diffusers UNet2DModel) as an h-space generator: DDIM inversion of the first
 * `invertSteps` of `steps` steps (t ≈ 300 of 1000 at 4 of 10) and the edited decoding back.
 */
export function ddpmHSpaceGenerator(unet: UNet2DModel, scheduler: DDIMScheduler, o: { steps?: number; invertSteps?: number } = {}): HSpaceGenerator {
  const steps = o.steps ?? 10;
  const { down, up } = roundTripTimesteps(scheduler, steps, o.invertSteps ?? 4);
  const size = unet.config.sample_size as number;
  const probe = noGrad(() => unet.forwardWithH(zeros([1, unet.config.in_channels as number, size, size]), 0));
  const hShape = [...probe.h.shape];
  probe.h.dispose();
  probe.sample.dispose();
  return {
    hShape,
    invert: (x) => invertPartially(scheduler, x, steps, (xx, t) => unet.forward(xx, t), down.length),
    decode(z, delta) {
      scheduler.setTimesteps(steps);
      return denoise(z, up, (xx, t, _i, inputs) => tidy(() => {
        if (!inputs.length) return scheduler.step(unet.forward(xx, t), t, xx).prevSample;
        const { eps, epsEdited } = epsOriginalAndEdited(unet, xx, t, inputs[0]);
        return scheduler.step(epsEdited, t, xx, { epsForDirection: eps }).prevSample;
      }), { inputs: () => (delta ? [delta] : []) });
    },
  };
}

/**
 * A Stable Diffusion pipeline as an h-space generator, unconditional (the empty prompt, no guidance):
 * images → VAE latents → DDIM inversion of `invertSteps` of `steps` → edited decoding → VAE decoding.
 * Δh lives on the conditional UNet's mid-block output (latent resolution / 2^(levels − 1)).
 */
export function latentHSpaceGenerator(
  pipe: StableDiffusionPipeline, o: { steps?: number; invertSteps?: number; prompt?: string } = {},
): HSpaceGenerator {
  const steps = o.steps ?? 10;
  const scheduler = pipe.newScheduler();
  const { down, up } = roundTripTimesteps(scheduler, steps, o.invertSteps ?? 4);
  const cond = noGrad(() => pipe.encodePrompt([o.prompt ?? '']));
  const condFor = (b: number) => broadcastTo(cond, [b, cond.shape[1], cond.shape[2]]);
  const unet = pipe.unet;
  const latentSize = (unet.config.sample_size as number);
  let hShape: number[] = [];
  noGrad(() => tidy(() => {
    unet.forward(zeros([1, unet.config.in_channels, latentSize, latentSize]), 0, cond, {
      midBlockHook: (h) => {
        hShape = [...h.shape];
        return h;
      },
    });
  }));
  return {
    hShape,
    invert: (x) => noGrad(() => tidy(() => {
      const z0 = pipe.encodeImage(x);
      return invertPartially(scheduler, z0, steps, (xx, t) => unet.forward(xx, t, condFor(xx.shape[0])), down.length);
    })),
    decode(z, delta) {
      scheduler.setTimesteps(steps);
      const z0 = denoise(z, up, (xx, t, _i, inputs) => tidy(() => {
        if (!inputs.length) return scheduler.step(unet.forward(xx, t, condFor(xx.shape[0])), t, xx).prevSample;
        const c2 = concat([condFor(xx.shape[0]), condFor(xx.shape[0])], 0);
        const { eps, epsEdited } = epsOriginalAndEdited((x2, tt, hook) => unet.forward(x2, tt, c2, { midBlockHook: hook }), xx, t, inputs[0]);
        return scheduler.step(epsEdited, t, xx, { epsForDirection: eps }).prevSample;
      }), { inputs: () => (delta ? [delta] : []) });
      return tidy(() => pipe.decodeLatents(z0));
    },
    dispose: () => cond.dispose(),
  };
}
