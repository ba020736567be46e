import { tidy } from '../../autograd/scope.js';
import type { Tensor } from '../../autograd/tensor.js';
import { fromArray } from '../../ops/creation.js';
import { add, div, mul } from '../../ops/elementwise.js';
import { narrow, pad } from '../../ops/shape.js';
import { Conv2d, GroupNorm, ModuleList } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { activation } from './activations.js';
import { blockAttention, DownBlock, MidBlock, UpBlock } from './blocks.js';
import type { LoadOptions } from '../pretrained.js';
import type { WeightsDir } from '../weights-dir.js';
import { loadPretrained } from '../load-lazy.js';

export interface AutoencoderKLConfig {
  in_channels: number;
  out_channels: number;
  down_block_types: string[];
  up_block_types: string[];
  block_out_channels: number[];
  layers_per_block: number;
  act_fn: string;
  latent_channels: number;
  norm_num_groups: number;
  sample_size: number;
  scaling_factor: number;
}

export const AUTOENCODER_KL_DEFAULTS: AutoencoderKLConfig = {
  in_channels: 3, out_channels: 3, down_block_types: ['DownEncoderBlock2D'], up_block_types: ['UpDecoderBlock2D'],
  block_out_channels: [64], layers_per_block: 1, act_fn: 'silu', latent_channels: 4, norm_num_groups: 32, sample_size: 32,
  scaling_factor: 0.18215,
};

const VAE_EPS = 1e-6;

class Encoder extends Module {
  conv_in: Conv2d;
  down_blocks: ModuleList<DownBlock>;
  mid_block: MidBlock;
  conv_norm_out: GroupNorm;
  conv_out: Conv2d;
  constructor(readonly c: AutoencoderKLConfig) {
    super();
    const ch = c.block_out_channels;
    const n = ch.length;
    const common = { tembChannels: null, eps: VAE_EPS, act: c.act_fn, groups: c.norm_num_groups };
    this.conv_in = this.child('conv_in', new Conv2d(c.in_channels, ch[0], 3, { padding: 1 }));
    this.down_blocks = this.child('down_blocks', new ModuleList(c.down_block_types.map((type, i) => new DownBlock(i === 0 ? ch[0] : ch[i - 1], ch[i], {
      ...common, layers: c.layers_per_block, attention: blockAttention(type), addDownsample: i < n - 1, downsamplePadding: 0,
    }))));
    this.mid_block = this.child('mid_block', new MidBlock(ch[n - 1], { ...common, layers: 1, attention: 'self', attentionHeadDim: ch[n - 1] }));
    this.conv_norm_out = this.child('conv_norm_out', new GroupNorm(c.norm_num_groups, ch[n - 1], { eps: VAE_EPS }));
    this.conv_out = this.child('conv_out', new Conv2d(ch[n - 1], 2 * c.latent_channels, 3, { padding: 1 }));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => {
      let h = this.conv_in.forward(x);
      for (const blk of this.down_blocks) h = blk.forward(h, null, null).out;
      h = this.mid_block.forward(h, null, null);
      return this.conv_out.forward(activation(this.c.act_fn, this.conv_norm_out.forward(h)));
    });
  }
}

class Decoder extends Module {
  conv_in: Conv2d;
  mid_block: MidBlock;
  up_blocks: ModuleList<UpBlock>;
  conv_norm_out: GroupNorm;
  conv_out: Conv2d;
  constructor(readonly c: AutoencoderKLConfig) {
    super();
    const rch = [...c.block_out_channels].reverse();
    const n = rch.length;
    const common = { tembChannels: null, eps: VAE_EPS, act: c.act_fn, groups: c.norm_num_groups };
    this.conv_in = this.child('conv_in', new Conv2d(c.latent_channels, rch[0], 3, { padding: 1 }));
    this.mid_block = this.child('mid_block', new MidBlock(rch[0], { ...common, layers: 1, attention: 'self', attentionHeadDim: rch[0] }));
    this.up_blocks = this.child('up_blocks', new ModuleList(c.up_block_types.map((type, i) => new UpBlock(rch[i], i === 0 ? rch[0] : rch[i - 1], rch[i], {
      ...common, layers: c.layers_per_block + 1, attention: blockAttention(type), addUpsample: i < n - 1, withSkips: false,
    }))));
    this.conv_norm_out = this.child('conv_norm_out', new GroupNorm(c.norm_num_groups, rch[n - 1], { eps: VAE_EPS }));
    this.conv_out = this.child('conv_out', new Conv2d(rch[n - 1], c.out_channels, 3, { padding: 1 }));
  }
  forward(z: Tensor): Tensor {
    return tidy(() => {
      let h = this.mid_block.forward(this.conv_in.forward(z), null, null);
      for (const blk of this.up_blocks) h = blk.forward(h, [], null, null);
      return this.conv_out.forward(activation(this.c.act_fn, this.conv_norm_out.forward(h)));
    });
  }
}

/** The latent distribution of an image: a diagonal Gaussian. */
export interface LatentDistribution { mean: Tensor; logvar: Tensor }

/** Stable Diffusion's VAE (diffusers AutoencoderKL, diffusers key names). decode() takes unscaled latents. */
export class AutoencoderKL extends Module {
  static fromPretrained(dir: string | WeightsDir, opts: LoadOptions & { weights?: string } = {}): Promise<AutoencoderKL> {
    return loadPretrained(dir, (c) => new AutoencoderKL(c), opts);
  }

  readonly config: AutoencoderKLConfig;
  encoder: Encoder;
  decoder: Decoder;
  quant_conv: Conv2d;
  post_quant_conv: Conv2d;
  constructor(config: Partial<AutoencoderKLConfig> & Record<string, unknown> = {}) {
    super();
    const c = (this.config = { ...AUTOENCODER_KL_DEFAULTS, ...config } as AutoencoderKLConfig);
    this.encoder = this.child('encoder', new Encoder(c));
    this.decoder = this.child('decoder', new Decoder(c));
    this.quant_conv = this.child('quant_conv', new Conv2d(2 * c.latent_channels, 2 * c.latent_channels, 1));
    this.post_quant_conv = this.child('post_quant_conv', new Conv2d(c.latent_channels, c.latent_channels, 1));
  }

  get scalingFactor(): number { return this.config.scaling_factor; }

  encode(x: Tensor): LatentDistribution {
    return tidy(() => {
      const moments = this.quant_conv.forward(this.encoder.forward(x));
      const l = this.config.latent_channels;
      return { mean: narrow(moments, 1, 0, l), logvar: narrow(moments, 1, l, l).clamp(-30, 20) };
    });
  }

  /**
   * Pixels from unscaled latents. `tiling: 'auto'` (default) decodes in overlapping tiles when the
   * decoder's full-resolution activations would not fit in one binding of this adapter (SD's VAE at
   * 512² on a 128 MiB limit), as diffusers' enable_tiling(); true / false force it.
   */
  decode(z: Tensor, { tiling = 'auto', tile = 32, overlap = 8 }: DecodeOptions = {}): Tensor {
    const tiled = tiling === true || (tiling === 'auto' && (z.shape[2] > tile || z.shape[3] > tile) && this.decodeActivationBytes(z) > z.ctx.maxBinding);
    if (tiled) return this.decodeTiled(z, tile, overlap);
    return tidy(() => this.decoder.forward(this.post_quant_conv.forward(z)));
  }

  /** Bytes of the decoder's largest activation for latents z: the upsampled features entering the last up block. */
  decodeActivationBytes(z: Tensor): number {
    const ch = this.config.block_out_channels;
    const f = 2 ** (ch.length - 1);
    return 4 * z.shape[0] * Math.max(ch[0], ch[Math.min(1, ch.length - 1)]) * z.shape[2] * f * z.shape[3] * f;
  }

  /**
   * Tiled decoding: latent tiles of `tile`² with `overlap` shared on each side, decoded one by one and
   * blended with linear ramps over the overlaps (weights sum to one everywhere). Differentiable.
   * GroupNorm statistics are per tile, so seams can differ slightly from a whole decode.
   */
  decodeTiled(z: Tensor, tile = 32, overlap = 8): Tensor {
    const [, , H, W] = z.shape;
    if ((H > tile || W > tile) && !(overlap >= 0 && overlap < tile)) {
      throw new Error(`cflens: AutoencoderKL.decodeTiled: overlap ${overlap} must be in [0, tile ${tile})`);
    }
    const f = 2 ** (this.config.block_out_channels.length - 1);
    const starts = (n: number) => {
      if (n <= tile) return [0];
      const out: number[] = [];
      for (let s = 0; ; s += tile - overlap) {
        if (s + tile >= n) { out.push(n - tile); break; }
        out.push(s);
      }
      return out;
    };
    const ys = starts(H);
    const xs = starts(W);
    // 1-D ramp of a tile along one axis: rises over the overlap with the previous tile, falls over the next.
    const ramp = (pos: number[], k: number, len: number, total: number) => {
      const w = new Float32Array(len * f).fill(1);
      const prevEnd = k > 0 ? (pos[k - 1] + Math.min(tile, total)) * f : 0;
      const nextStart = k + 1 < pos.length ? pos[k + 1] * f : Infinity;
      for (let i = 0; i < len * f; i++) {
        const p = pos[k] * f + i;
        if (p < prevEnd) w[i] = Math.min(w[i], (p - pos[k] * f + 0.5) / (prevEnd - pos[k] * f));
        if (p >= nextStart) w[i] = Math.min(w[i], ((pos[k] + len) * f - p - 0.5) / ((pos[k] + len) * f - nextStart));
      }
      return w;
    };
    return tidy(() => {
      let acc: Tensor | null = null;
      let wsum: Tensor | null = null;
      ys.forEach((y, iy) => xs.forEach((x, ix) => {
        const th = Math.min(tile, H);
        const tw = Math.min(tile, W);
        const out = this.decoder.forward(this.post_quant_conv.forward(narrow(narrow(z, 2, y, th), 3, x, tw)));
        const ry = ramp(ys, iy, th, H);
        const rx = ramp(xs, ix, tw, W);
        const w2 = new Float32Array(ry.length * rx.length);
        for (let i = 0; i < ry.length; i++) for (let j = 0; j < rx.length; j++) w2[i * rx.length + j] = ry[i] * rx[j];
        const wt = fromArray(w2, [1, 1, ry.length, rx.length], { ctx: z.ctx });
        const pads = [x * f, (W - x - tw) * f, y * f, (H - y - th) * f];
        const part = pad(mul(out, wt), pads);
        const wpad = pad(wt, pads);
        acc = acc ? add(acc, part) : part;
        wsum = wsum ? add(wsum, wpad) : wpad;
      }));
      return div(acc!, wsum!);
    });
  }
}

export interface DecodeOptions {
  /** 'auto' (default): tile only when the whole decode would exceed the binding limit. */
  tiling?: boolean | 'auto';
  /** Latent tile side (default 32 = 256 px for SD) and overlap in latent pixels (default 8). */
  tile?: number;
  overlap?: number;
}
