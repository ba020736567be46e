import { noGrad } from '../autograd/grad-mode.js';
import { keep, tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { mseLoss } from '../ops/loss.js';
import { clone } from '../ops/shape.js';
import { Adam } from '../nn/optim.js';
import type { DDIMScheduler } from '../schedulers/ddim.js';
import { ddimInvert, guidedEps, type ConditionalDenoiser } from './sampling.js';

export interface NullTextOptions {
  unet: ConditionalDenoiser;
  scheduler: DDIMScheduler;
  /** The latent of the image to reconstruct (x_0). */
  x0: Tensor;
  cond: Tensor;
  /** The initial null-text embedding (the encoding of ""). */
  uncond: Tensor;
  steps: number;
  guidanceScale?: number;
  /** Adam steps per timestep (Mokady et al.: 10) and learning rate (1e-2, decayed over steps). */
  innerSteps?: number;
  lr?: number;
  /** Stop a timestep's optimisation once the loss is below this (plus a per-step slack). */
  earlyStop?: number;
  onStep?: (step: number, loss: number) => void;
}

export interface NullTextResult {
  /** One optimised null embedding per sampling step, in sampling order. */
  nullEmbeddings: Tensor[];
  /** The DDIM inversion trajectory [x_0, …, x_T]. */
  trajectory: Tensor[];
  /** Final loss of each step. */
  losses: number[];
}

/**
 * Null-text inversion (Mokady et al. 2023): invert with DDIM, then for each step optimise ∅_t so that
 * the guided step from the current latent lands on the inversion trajectory.
 */
export async function nullTextInversion(o: NullTextOptions): Promise<NullTextResult> {
  const scale = o.guidanceScale ?? 7.5;
  const inner = o.innerSteps ?? 10;
  const lr = o.lr ?? 1e-2;
  const s = o.scheduler;
  const trajectory = noGrad(() => ddimInvert({ unet: o.unet, scheduler: s, x0: o.x0, cond: o.cond, steps: o.steps }));
  s.setTimesteps(o.steps);
  const nulls: Tensor[] = [];
  const losses: number[] = [];
  let z = trajectory[trajectory.length - 1];
  let uncond = o.uncond;
  for (let i = 0; i < s.timesteps.length; i++) {
    const t = s.timesteps[i];
    const target = trajectory[trajectory.length - 2 - i];
    const epsCond = noGrad(() => o.unet.forward(z, t, o.cond));
    const nullT = keep(noGrad(() => clone(uncond))).requiresGrad_();
    const opt = new Adam([nullT], { lr: lr * (1 - i / 100) });
    let last = Infinity;
    for (let j = 0; j < inner; j++) {
      opt.zeroGrad();
      const loss = tidy(() => {
        const epsU = o.unet.forward(z, t, nullT);
        const eps = epsU.add(epsCond.sub(epsU).mul(scale));
        return mseLoss(s.step(eps, t, z).prevSample, target);
      });
      loss.backward();
      last = await loss.item();
      loss.dispose();
      opt.step();
      if (last < (o.earlyStop ?? 1e-5) + i * 2e-5) break;
    }
    opt.zeroGrad();
    opt.dispose();
    epsCond.dispose();
    nullT.requiresGrad = false;
    nulls.push(nullT);
    losses.push(last);
    o.onStep?.(i, last);
    const next = noGrad(() => tidy(() => s.step(guidedEps(o.unet, z, t, o.cond, nullT, scale), t, z).prevSample));
    if (z !== trajectory[trajectory.length - 1]) z.dispose();
    z = next;
    uncond = nullT;
  }
  if (z !== trajectory[trajectory.length - 1]) z.dispose();
  return { nullEmbeddings: nulls, trajectory, losses };
}

/** Peak signal-to-noise ratio in dB of two tensors with values in a range of `dataRange`. */
export async function psnr(a: Tensor, b: Tensor, dataRange = 2): Promise<number> {
  const l = tidy(() => mseLoss(a, b));
  const mse = await l.item();
  l.dispose();
  return 10 * Math.log10((dataRange * dataRange) / Math.max(mse, 1e-20));
}
