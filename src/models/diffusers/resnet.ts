import { tidy } from '../../autograd/scope.js';
import type { Tensor } from '../../autograd/tensor.js';
import { add, div } from '../../ops/elementwise.js';
import { pad, unsqueeze } from '../../ops/shape.js';
import { interpolate } from '../../ops/resample.js';
import { Conv2d, GroupNorm, Linear } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { activation } from './activations.js';

export interface ResnetOptions {
  inChannels: number;
  outChannels?: number;
  tembChannels: number | null;
  groups?: number;
  groupsOut?: number;
  eps?: number;
  act?: string;
  outputScaleFactor?: number;
  timeEmbeddingNorm?: 'default' | 'scale_shift';
}

/** diffusers ResnetBlock2D: GroupNorm → act → conv, + time embedding, GroupNorm → act → conv, skip. */
export class ResnetBlock2D extends Module {
  norm1: GroupNorm;
  conv1: Conv2d;
  time_emb_proj: Linear | null = null;
  norm2: GroupNorm;
  conv2: Conv2d;
  conv_shortcut: Conv2d | null = null;
  readonly act: string;
  readonly outputScaleFactor: number;
  readonly scaleShift: boolean;

  constructor(o: ResnetOptions) {
    super();
    const out = o.outChannels ?? o.inChannels;
    const groups = o.groups ?? 32;
    const eps = o.eps ?? 1e-6;
    this.act = o.act ?? 'silu';
    this.outputScaleFactor = o.outputScaleFactor ?? 1;
    this.scaleShift = o.timeEmbeddingNorm === 'scale_shift';
    this.norm1 = this.child('norm1', new GroupNorm(groups, o.inChannels, { eps }));
    this.conv1 = this.child('conv1', new Conv2d(o.inChannels, out, 3, { padding: 1 }));
    if (o.tembChannels !== null) this.time_emb_proj = this.child('time_emb_proj', new Linear(o.tembChannels, this.scaleShift ? 2 * out : out));
    this.norm2 = this.child('norm2', new GroupNorm(o.groupsOut ?? groups, out, { eps }));
    this.conv2 = this.child('conv2', new Conv2d(out, out, 3, { padding: 1 }));
    if (o.inChannels !== out) this.conv_shortcut = this.child('conv_shortcut', new Conv2d(o.inChannels, out, 1));
  }

  forward(x: Tensor, temb: Tensor | null): Tensor {
    return tidy(() => {
      let h = this.conv1.forward(activation(this.act, this.norm1.forward(x)));
      let scale: Tensor | null = null;
      let shift: Tensor | null = null;
      if (this.time_emb_proj && temb) {
        const t = unsqueeze(unsqueeze(this.time_emb_proj.forward(activation(this.act, temb)), -1), -1);
        if (this.scaleShift) {
          const c = t.shape[1] / 2;
          scale = t.narrow(1, 0, c);
          shift = t.narrow(1, c, c);
        } else {
          h = add(h, t);
        }
      }
      h = this.norm2.forward(h);
      if (scale && shift) h = add(h.mul(add(scale, 1)), shift);
      h = this.conv2.forward(activation(this.act, h));
      const skip = this.conv_shortcut ? this.conv_shortcut.forward(x) : x;
      const y = add(skip, h);
      return this.outputScaleFactor === 1 ? y : div(y, this.outputScaleFactor);
    });
  }
}

/** Stride-2 conv; with padding 0 the input is first padded on the right and bottom (diffusers Downsample2D). */
export class Downsample2D extends Module {
  conv: Conv2d;
  constructor(channels: number, readonly padding = 1, outChannels?: number) {
    super();
    this.conv = this.child('conv', new Conv2d(channels, outChannels ?? channels, 3, { stride: 2, padding }));
  }
  forward(x: Tensor): Tensor {
    if (this.padding !== 0) return this.conv.forward(x);
    return tidy(() => this.conv.forward(pad(x, [0, 1, 0, 1])));
  }
}

/** Nearest 2× (or to `size`) then a 3×3 conv (diffusers Upsample2D with use_conv). */
export class Upsample2D extends Module {
  conv: Conv2d;
  constructor(channels: number, outChannels?: number) {
    super();
    this.conv = this.child('conv', new Conv2d(channels, outChannels ?? channels, 3, { padding: 1 }));
  }
  forward(x: Tensor, size?: [number, number]): Tensor {
    return tidy(() => this.conv.forward(interpolate(x, size ? { size, mode: 'nearest' } : { scaleFactor: 2, mode: 'nearest' })));
  }
}
