import { tidy } from '../../autograd/scope.js';
import type { Tensor } from '../../autograd/tensor.js';
import { concat } from '../../ops/shape.js';
import { ModuleList } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { Attention, Transformer2DModel } from './attention.js';
import { Downsample2D, ResnetBlock2D, Upsample2D } from './resnet.js';

/** 'none': DownBlock2D/UpBlock2D (and the VAE's encoder/decoder blocks); 'self': AttnDownBlock2D (DDPM); 'cross': CrossAttn…Block2D. */
export type BlockAttention = 'none' | 'self' | 'cross';

export interface BlockOptions {
  layers: number;
  tembChannels: number | null;
  eps: number;
  act: string;
  groups: number;
  attention: BlockAttention;
  /** self-attention: channels per head; cross-attention: number of heads (diffusers' naming). */
  attentionHeadDim?: number;
  heads?: number;
  crossAttentionDim?: number;
  transformerLayers?: number;
  linearProjection?: boolean;
  outputScaleFactor?: number;
  timeEmbeddingNorm?: 'default' | 'scale_shift';
}

/** Attention module of a block: a Transformer2DModel (cross) or a spatial diffusers Attention (self). */
function makeAttention(channels: number, o: BlockOptions): Module {
  if (o.attention === 'cross') {
    const heads = o.heads!;
    return new Transformer2DModel({
      heads, dimHead: channels / heads, inChannels: channels, layers: o.transformerLayers ?? 1,
      crossAttentionDim: o.crossAttentionDim!, normGroups: o.groups, linearProjection: o.linearProjection ?? false,
    });
  }
  const dimHead = o.attentionHeadDim ?? channels;
  return new Attention({
    queryDim: channels, heads: channels / dimHead, dimHead, bias: true, normGroups: o.groups, eps: o.eps,
    residualConnection: true, rescaleOutputFactor: o.outputScaleFactor ?? 1,
  });
}

function runAttention(m: Module, h: Tensor, context: Tensor | null): Tensor {
  return m instanceof Transformer2DModel ? m.forward(h, context!) : (m as Attention).forward(h);
}

function resnet(inChannels: number, out: number, o: BlockOptions): ResnetBlock2D {
  return new ResnetBlock2D({
    inChannels, outChannels: out, tembChannels: o.tembChannels, groups: o.groups, eps: o.eps, act: o.act,
    outputScaleFactor: o.outputScaleFactor, timeEmbeddingNorm: o.timeEmbeddingNorm,
  });
}

export class DownBlock extends Module {
  resnets: ModuleList<ResnetBlock2D>;
  attentions: ModuleList<Module> | null = null;
  downsamplers: ModuleList<Downsample2D> | null = null;
  constructor(inChannels: number, out: number, readonly o: BlockOptions & { addDownsample: boolean; downsamplePadding: number }) {
    super();
    this.resnets = this.child('resnets', new ModuleList(Array.from({ length: o.layers }, (_, i) => resnet(i === 0 ? inChannels : out, out, o))));
    if (o.attention !== 'none') this.attentions = this.child('attentions', new ModuleList(Array.from({ length: o.layers }, () => makeAttention(out, o))));
    if (o.addDownsample) this.downsamplers = this.child('downsamplers', new ModuleList([new Downsample2D(out, o.downsamplePadding)]));
  }

  /** Returns the block output and every intermediate state the up path will concatenate. */
  forward(x: Tensor, temb: Tensor | null, context: Tensor | null): { out: Tensor; states: Tensor[] } {
    return tidy(() => {
      const states: Tensor[] = [];
      let h = x;
      this.resnets.items.forEach((r, i) => {
        h = r.forward(h, temb);
        if (this.attentions) h = runAttention(this.attentions.at(i), h, context);
        states.push(h);
      });
      if (this.downsamplers) {
        h = this.downsamplers.at(0).forward(h);
        states.push(h);
      }
      return { out: h, states };
    });
  }
}

export class MidBlock extends Module {
  resnets: ModuleList<ResnetBlock2D>;
  attentions: ModuleList<Module> | null = null;
  constructor(channels: number, readonly o: BlockOptions) {
    super();
    this.resnets = this.child('resnets', new ModuleList(Array.from({ length: o.layers + 1 }, () => resnet(channels, channels, o))));
    if (o.attention !== 'none') this.attentions = this.child('attentions', new ModuleList(Array.from({ length: o.layers }, () => makeAttention(channels, o))));
  }
  forward(x: Tensor, temb: Tensor | null, context: Tensor | null): Tensor {
    return tidy(() => {
      let h = this.resnets.at(0).forward(x, temb);
      for (let i = 1; i < this.resnets.length; i++) {
        if (this.attentions) h = runAttention(this.attentions.at(i - 1), h, context);
        h = this.resnets.at(i).forward(h, temb);
      }
      return h;
    });
  }
}

export class UpBlock extends Module {
  resnets: ModuleList<ResnetBlock2D>;
  attentions: ModuleList<Module> | null = null;
  upsamplers: ModuleList<Upsample2D> | null = null;
  /** Skip connections this block consumes (0 for the VAE decoder's blocks). */
  readonly skips: number;
  constructor(inChannels: number, prevOut: number, out: number, readonly o: BlockOptions & { addUpsample: boolean; withSkips: boolean }) {
    super();
    this.skips = o.withSkips ? o.layers : 0;
    this.resnets = this.child('resnets', new ModuleList(Array.from({ length: o.layers }, (_, i) => {
      const resIn = i === 0 ? prevOut : out;
      const skip = o.withSkips ? (i === o.layers - 1 ? inChannels : out) : 0;
      return resnet(resIn + skip, out, o);
    })));
    if (o.attention !== 'none') this.attentions = this.child('attentions', new ModuleList(Array.from({ length: o.layers }, () => makeAttention(out, o))));
    if (o.addUpsample) this.upsamplers = this.child('upsamplers', new ModuleList([new Upsample2D(out)]));
  }

  /** `skips` are consumed from the end, as diffusers pops res_hidden_states_tuple. */
  forward(x: Tensor, skips: Tensor[], temb: Tensor | null, context: Tensor | null, upsampleSize?: [number, number]): Tensor {
    return tidy(() => {
      let h = x;
      this.resnets.items.forEach((r, i) => {
        if (this.skips) h = concat([h, skips[skips.length - 1 - i]], 1);
        h = r.forward(h, temb);
        if (this.attentions) h = runAttention(this.attentions.at(i), h, context);
      });
      if (this.upsamplers) h = this.upsamplers.at(0).forward(h, upsampleSize);
      return h;
    });
  }
}

/** Maps a diffusers block type name to its attention kind. */
export function blockAttention(type: string): BlockAttention {
  if (/^CrossAttn(Down|Up)Block2D$/.test(type) || type === 'UNetMidBlock2DCrossAttn') return 'cross';
  if (/^Attn(Down|Up)Block2D$/.test(type) || type === 'UNetMidBlock2D') return 'self';
  if (/^(Down|Up)Block2D$/.test(type) || /^(DownEncoder|UpDecoder)Block2D$/.test(type)) return 'none';
  throw new Error(
    `cflens: unsupported diffusers block type '${type}' (DownBlock2D, AttnDownBlock2D, CrossAttnDownBlock2D, UpBlock2D, AttnUpBlock2D, ` +
    'CrossAttnUpBlock2D, DownEncoderBlock2D, UpDecoderBlock2D)',
  );
}
