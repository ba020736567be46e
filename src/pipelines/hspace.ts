import { denoise } from './denoise.js';
import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { timestepEmbedding } from '../ops/embedding.js';
import { zeros } from '../ops/creation.js';
import { add } from '../ops/elementwise.js';
import { concat, narrow, unsqueeze } from '../ops/shape.js';
import { silu } from '../ops/activation.js';
import { Conv2d, GroupNorm, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { MidBlockHook, UNet2DModel } from '../models/diffusers/unet-2d.js';
import type { DDIMScheduler } from '../schedulers/ddim.js';

/**
 * Asyrp's learnable h-space edit: 1×1 conv → + time embedding → GroupNorm → SiLU → 1×1 conv, giving
 * Δh for the UNet's mid-block output at timestep t. The last conv starts at zero: no edit at first.
 */
export class DeltaBlock extends Module {
  conv_in: Conv2d;
  time_proj: Linear;
  norm: GroupNorm;
  conv_out: Conv2d;
  constructor(readonly channels: number, { groups = 32, timeDim = 128, seed }: { groups?: number; timeDim?: number; seed?: number } = {}) {
    super();
    const g = Math.min(groups, channels);
    this.conv_in = this.child('conv_in', new Conv2d(channels, channels, 1, { seed }));
    this.time_proj = this.child('time_proj', new Linear(timeDim, channels, { seed: seed === undefined ? undefined : seed + 1 }));
    this.norm = this.child('norm', new GroupNorm(channels % g === 0 ? g : 1, channels));
    this.conv_out = this.child('conv_out', new Conv2d(channels, channels, 1));
    this.setByPath('conv_out.weight', zeros([channels, channels, 1, 1]));
    this.setByPath('conv_out.bias', zeros([channels]));
    this.timeDim = timeDim;
  }
  readonly timeDim: number;

  forward(h: Tensor, timesteps: readonly number[]): Tensor {
    return tidy(() => {
      const temb = this.time_proj.forward(silu(timestepEmbedding(timesteps, this.timeDim, { flipSinToCos: true, downscaleFreqShift: 0 })));
      const x = add(this.conv_in.forward(h), unsqueeze(unsqueeze(temb, -1), -1));
      return this.conv_out.forward(silu(this.norm.forward(x)));
    });
  }
}

/** A global Δh (broadcast over the batch) or a DeltaBlock. */
export type HEdit = Tensor | DeltaBlock;

function deltaFor(edit: HEdit, h: Tensor, timesteps: readonly number[]): Tensor {
  return edit instanceof Module ? (edit as DeltaBlock).forward(h, timesteps) : edit;
}

/**
 * A UNet's noise prediction with a hook on its mid-block output, for a batch the caller doubled: a
 * UNet2DModel (its forwardWithH), or a closure over a conditional UNet and its (doubled) conditioning.
 */
export type HookedDenoiser = (x: Tensor, t: number, hook: MidBlockHook) => Tensor;

function hooked(unet: UNet2DModel | HookedDenoiser): HookedDenoiser {
  if (typeof unet === 'function') return unet;
  return (x, t, hook) => {
    const out = unet.forwardWithH(x, t, hook);
    out.h.dispose();
    return out.sample;
  };
}

/**
 * ε of the original and of the h-edited UNet in one batched pass: the batch is doubled and the hook
 * adds Δh to the second half's mid-block output only.
 */
export function epsOriginalAndEdited(unet: UNet2DModel | HookedDenoiser, x: Tensor, t: number, edit: HEdit): { eps: Tensor; epsEdited: Tensor } {
  return tidy(() => {
    const b = x.shape[0];
    const sample = hooked(unet)(concat([x, x], 0), t, (h, ts) => {
      const second = narrow(h, 0, b, b);
      return concat([narrow(h, 0, 0, b), add(second, deltaFor(edit, second, ts.slice(b)))], 0);
    });
    return { eps: narrow(sample, 0, 0, b), epsEdited: narrow(sample, 0, b, b) };
  });
}

export interface AsyrpOptions {
  unet: UNet2DModel;
  scheduler: DDIMScheduler;
  xT: Tensor;
  steps: number;
  edit: HEdit;
  /** Edit only while t ≥ tEdit (Asyrp edits the early, semantic steps). */
  tEdit?: number;
  checkpointSteps?: boolean;
}

/**
 * Asyrp's asymmetric reverse process: for t ≥ tEdit, x0 is predicted from the edited ε and the
 * direction term uses the original ε; plain DDIM below. Differentiable w.r.t. Δh / DeltaBlock weights.
 */
export function asyrpSample(o: AsyrpOptions): Tensor {
  const s = o.scheduler;
  s.setTimesteps(o.steps);
  const tEdit = o.tEdit ?? 0;
  return denoise(o.xT, s.timesteps, (xx, t) => tidy(() => {
    if (t < tEdit) return s.step(o.unet.forward(xx, t), t, xx).prevSample;
    const { eps, epsEdited } = epsOriginalAndEdited(o.unet, xx, t, o.edit);
    return s.step(epsEdited, t, xx, { epsForDirection: eps }).prevSample;
  }), { checkpointStep: () => o.checkpointSteps !== false });
}
