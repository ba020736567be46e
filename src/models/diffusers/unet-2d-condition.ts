import { tidy } from '../../autograd/scope.js';
import type { Tensor } from '../../autograd/tensor.js';
import { Conv2d, GroupNorm, ModuleList } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { activation } from './activations.js';
import { Attention, type AttentionHook } from './attention.js';
import { blockAttention, DownBlock, MidBlock, UpBlock } from './blocks.js';
import { batchTimesteps, TimestepEmbedding, Timesteps } from './embeddings.js';
import type { LoadOptions } from '../pretrained.js';
import type { WeightsDir } from '../weights-dir.js';
import { loadPretrained } from '../load-lazy.js';
import type { MidBlockHook } from './unet-2d.js';

/** The diffusers config keys UNet2DConditionModel reads (others are accepted and ignored). */
export interface UNet2DConditionConfig {
  sample_size: number;
  in_channels: number;
  out_channels: number;
  flip_sin_to_cos: boolean;
  freq_shift: number;
  down_block_types: string[];
  mid_block_type: string | null;
  up_block_types: string[];
  block_out_channels: number[];
  layers_per_block: number | number[];
  downsample_padding: number;
  mid_block_scale_factor: number;
  act_fn: string;
  norm_num_groups: number;
  norm_eps: number;
  cross_attention_dim: number;
  transformer_layers_per_block: number | number[];
  attention_head_dim: number | number[];
  num_attention_heads: number | number[] | null;
  use_linear_projection: boolean;
  resnet_time_scale_shift: 'default' | 'scale_shift';
  conv_in_kernel: number;
  conv_out_kernel: number;
  center_input_sample: boolean;
}

export const UNET_2D_CONDITION_DEFAULTS: UNet2DConditionConfig = {
  sample_size: 64, in_channels: 4, out_channels: 4, flip_sin_to_cos: true, freq_shift: 0,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  block_out_channels: [320, 640, 1280, 1280], layers_per_block: 2, downsample_padding: 1, mid_block_scale_factor: 1,
  act_fn: 'silu', norm_num_groups: 32, norm_eps: 1e-5, cross_attention_dim: 768, transformer_layers_per_block: 1,
  attention_head_dim: 8, num_attention_heads: null, use_linear_projection: false, resnet_time_scale_shift: 'default',
  conv_in_kernel: 3, conv_out_kernel: 3, center_input_sample: false,
};

const perBlock = (v: number | number[], n: number): number[] => (Array.isArray(v) ? v : Array(n).fill(v));

export interface UNetForwardOptions {
  /** Reads / replaces attention probabilities in every attention layer (prompt-to-prompt). */
  attentionHook?: AttentionHook | null;
  /** Replaces the mid-block output h (Asyrp's h-space edits), as UNet2DModel.forwardWithH's hook. */
  midBlockHook?: MidBlockHook | null;
}

/**
 * Stable Diffusion's conditional UNet (diffusers UNet2DConditionModel, diffusers key names).
 * forward(sample [B,C,H,W], timestep (number, number[] or tensor), encoderHiddenStates [B,L,D]) → noise prediction.
 */
export class UNet2DConditionModel extends Module {
  /** config.json + diffusion_pytorch_model.safetensors (or .bin) from a diffusers folder. */
  static fromPretrained(dir: string | WeightsDir, opts: LoadOptions & { weights?: string } = {}): Promise<UNet2DConditionModel> {
    return loadPretrained(dir, (c) => new UNet2DConditionModel(c), opts);
  }

  readonly config: UNet2DConditionConfig;
  time_proj: Timesteps;
  time_embedding: TimestepEmbedding;
  conv_in: Conv2d;
  down_blocks: ModuleList<DownBlock>;
  mid_block: MidBlock | null;
  up_blocks: ModuleList<UpBlock>;
  conv_norm_out: GroupNorm;
  conv_out: Conv2d;

  constructor(config: Partial<UNet2DConditionConfig> & Record<string, unknown> = {}) {
    super();
    const c = (this.config = { ...UNET_2D_CONDITION_DEFAULTS, ...config } as UNet2DConditionConfig);
    const n = c.down_block_types.length;
    if (c.up_block_types.length !== n || c.block_out_channels.length !== n) {
      throw new Error(
        `cflens: UNet2DConditionModel config: down_block_types (${n}), up_block_types (${c.up_block_types.length}) ` +
        `and block_out_channels (${c.block_out_channels.length}) must have the same length`,
      );
    }
    // diffusers' historical naming: attention_head_dim holds the number of heads unless num_attention_heads is set.
    const heads = perBlock(c.num_attention_heads ?? c.attention_head_dim, n);
    const layers = perBlock(c.layers_per_block, n);
    const tLayers = perBlock(c.transformer_layers_per_block, n);
    const ch = c.block_out_channels;
    const temb = ch[0] * 4;
    const common = {
      tembChannels: temb, eps: c.norm_eps, act: c.act_fn, groups: c.norm_num_groups, crossAttentionDim: c.cross_attention_dim,
      linearProjection: c.use_linear_projection, timeEmbeddingNorm: c.resnet_time_scale_shift,
    };

    this.time_proj = this.child('time_proj', new Timesteps(ch[0], c.flip_sin_to_cos, c.freq_shift));
    this.time_embedding = this.child('time_embedding', new TimestepEmbedding(ch[0], temb, c.act_fn));
    this.conv_in = this.child('conv_in', new Conv2d(c.in_channels, ch[0], c.conv_in_kernel, { padding: (c.conv_in_kernel - 1) / 2 }));

    this.down_blocks = this.child('down_blocks', new ModuleList(c.down_block_types.map((type, i) => new DownBlock(i === 0 ? ch[0] : ch[i - 1], ch[i], {
      ...common, layers: layers[i], attention: blockAttention(type), heads: heads[i], transformerLayers: tLayers[i],
      addDownsample: i < n - 1, downsamplePadding: c.downsample_padding,
    }))));

    this.mid_block = c.mid_block_type === null ? null : this.child('mid_block', new MidBlock(ch[n - 1], {
      ...common, layers: 1, attention: blockAttention(c.mid_block_type), heads: heads[n - 1], transformerLayers: tLayers[n - 1],
      outputScaleFactor: c.mid_block_scale_factor,
    }));

    const rch = [...ch].reverse();
    const rheads = [...heads].reverse();
    const rlayers = [...layers].reverse();
    const rtl = [...tLayers].reverse();
    this.up_blocks = this.child('up_blocks', new ModuleList(c.up_block_types.map((type, i) => new UpBlock(
      rch[Math.min(i + 1, n - 1)], i === 0 ? rch[0] : rch[i - 1], rch[i], {
        ...common, layers: rlayers[i] + 1, attention: blockAttention(type), heads: rheads[i], transformerLayers: rtl[i],
        addUpsample: i < n - 1, withSkips: true,
      },
    ))));

    this.conv_norm_out = this.child('conv_norm_out', new GroupNorm(c.norm_num_groups, ch[0], { eps: c.norm_eps }));
    this.conv_out = this.child('conv_out', new Conv2d(ch[0], c.out_channels, c.conv_out_kernel, { padding: (c.conv_out_kernel - 1) / 2 }));
    for (const [name, m] of this.namedModules()) if (m instanceof Attention) m.path = name;
  }

  /** Every attention layer, by dotted name. */
  attentionLayers(): Attention[] {
    return [...this.namedModules()].map(([, m]) => m).filter((m): m is Attention => m instanceof Attention);
  }

  forward(sample: Tensor, timestep: number | readonly number[], encoderHiddenStates: Tensor, opts: UNetForwardOptions = {}): Tensor {
    const layers = this.attentionLayers();
    for (const a of layers) a.hook = opts.attentionHook ?? null;
    try {
      return tidy(() => this.run(sample, timestep, encoderHiddenStates, opts.midBlockHook ?? null));
    } finally {
      for (const a of layers) a.hook = null;
    }
  }

  private run(sample: Tensor, timestep: number | readonly number[], context: Tensor, midBlockHook: MidBlockHook | null): Tensor {
    const c = this.config;
    const b = sample.shape[0];
    const tb = batchTimesteps(timestep, b);
    const emb = this.time_embedding.forward(this.time_proj.forward(tb));
    let h = c.center_input_sample ? sample.mul(2).sub(1) : sample;
    h = this.conv_in.forward(h);
    const skips: Tensor[] = [h];
    for (const blk of this.down_blocks) {
      const r = blk.forward(h, emb, context);
      h = r.out;
      skips.push(...r.states);
    }
    if (this.mid_block) h = this.mid_block.forward(h, emb, context);
    if (midBlockHook) h = midBlockHook(h, tb);
    this.up_blocks.items.forEach((blk, i) => {
      const mine = skips.splice(skips.length - blk.skips, blk.skips);
      // Odd spatial sizes: upsample to the size of the next skip connection, as diffusers does.
      const next = skips[skips.length - 1];
      const size: [number, number] | undefined = i < this.up_blocks.length - 1 && next ? [next.shape[2], next.shape[3]] : undefined;
      h = blk.forward(h, mine, emb, context, size);
    });
    h = activation(c.act_fn, this.conv_norm_out.forward(h));
    return this.conv_out.forward(h);
  }
}
