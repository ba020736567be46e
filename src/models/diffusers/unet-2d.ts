import { tidy } from '../../autograd/scope.js';
import type { Tensor } from '../../autograd/tensor.js';
import { Conv2d, GroupNorm, ModuleList } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { activation } from './activations.js';
import { Attention } from './attention.js';
import { blockAttention, DownBlock, MidBlock, UpBlock } from './blocks.js';
import { batchTimesteps, TimestepEmbedding, Timesteps } from './embeddings.js';
import type { LoadOptions } from '../pretrained.js';
import type { WeightsDir } from '../weights-dir.js';
import { loadPretrained } from '../load-lazy.js';

export interface UNet2DConfig {
  sample_size: number;
  in_channels: number;
  out_channels: number;
  center_input_sample: boolean;
  time_embedding_type: 'positional';
  freq_shift: number;
  flip_sin_to_cos: boolean;
  down_block_types: string[];
  up_block_types: string[];
  block_out_channels: number[];
  layers_per_block: number;
  mid_block_scale_factor: number;
  downsample_padding: number;
  act_fn: string;
  attention_head_dim: number | null;
  norm_num_groups: number;
  norm_eps: number;
  resnet_time_scale_shift: 'default' | 'scale_shift';
  add_attention: boolean;
}

export const UNET_2D_DEFAULTS: UNet2DConfig = {
  sample_size: 256, in_channels: 3, out_channels: 3, center_input_sample: false, time_embedding_type: 'positional',
  freq_shift: 0, flip_sin_to_cos: true,
  down_block_types: ['DownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D'],
  up_block_types: ['AttnUpBlock2D', 'AttnUpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'],
  block_out_channels: [224, 448, 672, 896], layers_per_block: 2, mid_block_scale_factor: 1, downsample_padding: 1,
  act_fn: 'silu', attention_head_dim: 8, norm_num_groups: 32, norm_eps: 1e-5, resnet_time_scale_shift: 'default', add_attention: true,
};

/** Receives the mid-block output h (and the timestep); returns the h to continue with (h-space edits, Asyrp). */
export type MidBlockHook = (h: Tensor, timesteps: readonly number[]) => Tensor;

export interface UNet2DOutput {
  sample: Tensor;
  /** The mid-block output before any hook (the h-space feature). */
  h: Tensor;
}

/** DDPM-style unconditional UNet (diffusers UNet2DModel, diffusers key names), with h-space access. */
export class UNet2DModel extends Module {
  static fromPretrained(dir: string | WeightsDir, opts: LoadOptions & { weights?: string } = {}): Promise<UNet2DModel> {
    return loadPretrained(dir, (c) => new UNet2DModel(c), opts);
  }

  readonly config: UNet2DConfig;
  time_proj: Timesteps;
  time_embedding: TimestepEmbedding;
  conv_in: Conv2d;
  down_blocks: ModuleList<DownBlock>;
  mid_block: MidBlock;
  up_blocks: ModuleList<UpBlock>;
  conv_norm_out: GroupNorm;
  conv_out: Conv2d;

  constructor(config: Partial<UNet2DConfig> & Record<string, unknown> = {}) {
    super();
    const c = (this.config = { ...UNET_2D_DEFAULTS, ...config } as UNet2DConfig);
    if (c.time_embedding_type !== 'positional') {
      throw new Error(`cflens: UNet2DModel: time_embedding_type '${c.time_embedding_type}' is not supported (positional)`);
    }
    const ch = c.block_out_channels;
    const n = ch.length;
    const temb = ch[0] * 4;
    const common = { tembChannels: temb, eps: c.norm_eps, act: c.act_fn, groups: c.norm_num_groups, timeEmbeddingNorm: c.resnet_time_scale_shift };
    this.time_proj = this.child('time_proj', new Timesteps(ch[0], c.flip_sin_to_cos, c.freq_shift));
    this.time_embedding = this.child('time_embedding', new TimestepEmbedding(ch[0], temb, c.act_fn));
    this.conv_in = this.child('conv_in', new Conv2d(c.in_channels, ch[0], 3, { padding: 1 }));
    this.down_blocks = this.child('down_blocks', new ModuleList(c.down_block_types.map((type, i) => new DownBlock(i === 0 ? ch[0] : ch[i - 1], ch[i], {
      ...common, layers: c.layers_per_block, attention: blockAttention(type), attentionHeadDim: c.attention_head_dim ?? ch[i],
      addDownsample: i < n - 1, downsamplePadding: c.downsample_padding,
    }))));
    this.mid_block = this.child('mid_block', new MidBlock(ch[n - 1], {
      ...common, layers: 1, attention: c.add_attention ? 'self' : 'none', attentionHeadDim: c.attention_head_dim ?? ch[n - 1],
      outputScaleFactor: c.mid_block_scale_factor,
    }));
    const rch = [...ch].reverse();
    this.up_blocks = this.child('up_blocks', new ModuleList(c.up_block_types.map((type, i) => new UpBlock(
      rch[Math.min(i + 1, n - 1)], i === 0 ? rch[0] : rch[i - 1], rch[i], {
        ...common, layers: c.layers_per_block + 1, attention: blockAttention(type), attentionHeadDim: c.attention_head_dim ?? rch[i],
        addUpsample: i < n - 1, withSkips: true,
      },
    ))));
    this.conv_norm_out = this.child('conv_norm_out', new GroupNorm(c.norm_num_groups, ch[0], { eps: c.norm_eps }));
    this.conv_out = this.child('conv_out', new Conv2d(ch[0], c.out_channels, 3, { padding: 1 }));
    for (const [name, m] of this.namedModules()) if (m instanceof Attention) m.path = name;
  }

  /** The noise prediction; see forwardWithH for the mid-block feature and h-space edits. */
  forward(sample: Tensor, timestep: number | readonly number[]): Tensor {
    const { sample: out, h } = this.forwardWithH(sample, timestep);
    h.dispose();
    return out;
  }

  /** Also returns the mid-block output h; `midBlockHook` may replace it (h-space edits). */
  forwardWithH(sample: Tensor, timestep: number | readonly number[], midBlockHook?: MidBlockHook): UNet2DOutput {
    return tidy(() => {
      const c = this.config;
      const b = sample.shape[0];
      const tb = batchTimesteps(timestep, b);
      const emb = this.time_embedding.forward(this.time_proj.forward(tb));
      let x = c.center_input_sample ? sample.mul(2).sub(1) : sample;
      x = this.conv_in.forward(x);
      const skips: Tensor[] = [x];
      for (const blk of this.down_blocks) {
        const r = blk.forward(x, emb, null);
        x = r.out;
        skips.push(...r.states);
      }
      const h = this.mid_block.forward(x, emb, null);
      x = midBlockHook ? midBlockHook(h, tb) : h;
      this.up_blocks.items.forEach((blk, i) => {
        const mine = skips.splice(skips.length - blk.skips, blk.skips);
        const next = skips[skips.length - 1];
        const size: [number, number] | undefined = i < this.up_blocks.length - 1 && next ? [next.shape[2], next.shape[3]] : undefined;
        x = blk.forward(x, mine, emb, null, size);
      });
      x = activation(c.act_fn, this.conv_norm_out.forward(x));
      return { sample: this.conv_out.forward(x), h };
    });
  }
}
