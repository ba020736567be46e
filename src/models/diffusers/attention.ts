import { tidy } from '../../autograd/scope.js';
import type { Tensor } from '../../autograd/tensor.js';
import { geglu } from '../../ops/activation.js';
import { scaledDotProductAttention } from '../../ops/attention.js';
import { add, div } from '../../ops/elementwise.js';
import { permute, reshape, transpose } from '../../ops/shape.js';
import { Conv2d, Dropout, GroupNorm, LayerNorm, Linear, ModuleList } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';

/** What an attention hook is told about the call it sees. */
export interface AttentionCall {
  /** Dotted module name, e.g. `down_blocks.0.attentions.0.transformer_blocks.0.attn2`. */
  name: string;
  isCross: boolean;
  heads: number;
  /** Query length (spatial positions) and key length (tokens for cross-attention). */
  queryLen: number;
  keyLen: number;
}

/**
 * Reads (and may replace) attention probabilities [batch, heads, queryLen, keyLen]. Returning a tensor
 * replaces them; returning nothing keeps them. Prompt-to-prompt captures and injects maps this way.
 */
export type AttentionHook = (probs: Tensor, call: AttentionCall) => Tensor | void;

export interface AttentionOptions {
  queryDim: number;
  crossAttentionDim?: number;
  heads: number;
  dimHead: number;
  bias?: boolean;
  outBias?: boolean;
  normGroups?: number | null;
  eps?: number;
  residualConnection?: boolean;
  rescaleOutputFactor?: number;
}

/** diffusers Attention (to_q/to_k/to_v/to_out.0), self or cross, on [B, L, C] or [B, C, H, W] inputs. */
export class Attention extends Module {
  to_q: Linear;
  to_k: Linear;
  to_v: Linear;
  to_out: ModuleList<Linear | Dropout>;
  group_norm: GroupNorm | null = null;
  readonly heads: number;
  readonly dimHead: number;
  readonly residual: boolean;
  readonly rescale: number;
  readonly isCrossCapable: boolean;
  /** Set by the owning model: its dotted name and the active hook. */
  path = '';
  hook: AttentionHook | null = null;

  constructor(o: AttentionOptions) {
    super();
    const inner = o.heads * o.dimHead;
    const kvDim = o.crossAttentionDim ?? o.queryDim;
    this.heads = o.heads;
    this.dimHead = o.dimHead;
    this.residual = o.residualConnection ?? false;
    this.rescale = o.rescaleOutputFactor ?? 1;
    this.isCrossCapable = o.crossAttentionDim !== undefined;
    if (o.normGroups) this.group_norm = this.child('group_norm', new GroupNorm(o.normGroups, o.queryDim, { eps: o.eps ?? 1e-5 }));
    this.to_q = this.child('to_q', new Linear(o.queryDim, inner, { bias: o.bias ?? false }));
    this.to_k = this.child('to_k', new Linear(kvDim, inner, { bias: o.bias ?? false }));
    this.to_v = this.child('to_v', new Linear(kvDim, inner, { bias: o.bias ?? false }));
    this.to_out = this.child('to_out', new ModuleList<Linear | Dropout>([new Linear(inner, o.queryDim, { bias: o.outBias ?? true }), new Dropout(0)]));
  }

  /** [B, L, heads·d] → [B, heads, L, d] */
  private split(x: Tensor): Tensor {
    const [b, l] = x.shape;
    return permute(reshape(x, [b, l, this.heads, this.dimHead]), [0, 2, 1, 3]);
  }

  forward(hidden: Tensor, context?: Tensor | null, mask?: Tensor | null): Tensor {
    return tidy(() => {
      const spatial = hidden.ndim === 4;
      const [b, c, hh, ww] = hidden.shape;
      let x = spatial ? transpose(reshape(hidden, [b, c, hh * ww]), 1, 2) : hidden;
      if (this.group_norm) x = transpose(this.group_norm.forward(transpose(x, 1, 2)), 1, 2);
      const ctx = context ?? x;
      const q = this.split(this.to_q.forward(x));
      const k = this.split(this.to_k.forward(ctx));
      const v = this.split(this.to_v.forward(ctx));
      const hook = this.hook;
      const call: AttentionCall = { name: this.path, isCross: !!context, heads: this.heads, queryLen: q.shape[2], keyLen: k.shape[2] };
      const o = scaledDotProductAttention(q, k, v, {
        mask: mask ?? undefined,
        probsHook: hook ? (p: Tensor) => hook(p, call) : undefined,
      });
      const [, , l] = o.shape;
      let y = reshape(permute(o, [0, 2, 1, 3]), [b, l, this.heads * this.dimHead]);
      y = (this.to_out.at(0) as Linear).forward(y);
      if (spatial) y = reshape(transpose(y, 1, 2), [b, c, hh, ww]);
      if (this.residual) y = add(y, hidden);
      return this.rescale === 1 ? y : div(y, this.rescale);
    });
  }
}

/** GEGLU feed-forward: net.0.proj (dim → 2·inner), gelu gate, net.2 (inner → dim). */
export class FeedForward extends Module {
  net: ModuleList<Module>;
  constructor(dim: number, mult = 4) {
    super();
    const inner = dim * mult;
    const proj = new (class GEGLU extends Module {
      proj = this.child('proj', new Linear(dim, inner * 2));
    })();
    this.net = this.child('net', new ModuleList<Module>([proj, new Dropout(0), new Linear(inner, dim)]));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const proj = (this.net.at(0) as unknown as { proj: Linear }).proj;
      return (this.net.at(2) as Linear).forward(geglu(proj.forward(x)));
    });
  }
}

/** Self-attention, cross-attention and GEGLU feed-forward, each pre-normed with a residual. */
export class BasicTransformerBlock extends Module {
  norm1: LayerNorm;
  attn1: Attention;
  norm2: LayerNorm;
  attn2: Attention;
  norm3: LayerNorm;
  ff: FeedForward;
  constructor(dim: number, heads: number, dimHead: number, crossAttentionDim: number) {
    super();
    this.norm1 = this.child('norm1', new LayerNorm(dim));
    this.attn1 = this.child('attn1', new Attention({ queryDim: dim, heads, dimHead }));
    this.norm2 = this.child('norm2', new LayerNorm(dim));
    this.attn2 = this.child('attn2', new Attention({ queryDim: dim, crossAttentionDim, heads, dimHead }));
    this.norm3 = this.child('norm3', new LayerNorm(dim));
    this.ff = this.child('ff', new FeedForward(dim));
  }
  forward(x: Tensor, context: Tensor): Tensor {
    return tidy(() => {
      let h = add(this.attn1.forward(this.norm1.forward(x)), x);
      h = add(this.attn2.forward(this.norm2.forward(h), context), h);
      return add(this.ff.forward(this.norm3.forward(h)), h);
    });
  }
}

/** diffusers Transformer2DModel for continuous inputs (GroupNorm, proj_in, blocks, proj_out, residual). */
export class Transformer2DModel extends Module {
  norm: GroupNorm;
  proj_in: Conv2d | Linear;
  transformer_blocks: ModuleList<BasicTransformerBlock>;
  proj_out: Conv2d | Linear;
  constructor(readonly o: {
    heads: number; dimHead: number; inChannels: number; layers: number; crossAttentionDim: number; normGroups: number; linearProjection: boolean;
  }) {
    super();
    const inner = o.heads * o.dimHead;
    this.norm = this.child('norm', new GroupNorm(o.normGroups, o.inChannels, { eps: 1e-6 }));
    this.proj_in = this.child('proj_in', o.linearProjection ? new Linear(o.inChannels, inner) : new Conv2d(o.inChannels, inner, 1));
    this.transformer_blocks = this.child('transformer_blocks', new ModuleList(Array.from(
      { length: o.layers },
      () => new BasicTransformerBlock(inner, o.heads, o.dimHead, o.crossAttentionDim),
    )));
    this.proj_out = this.child('proj_out', o.linearProjection ? new Linear(inner, o.inChannels) : new Conv2d(inner, o.inChannels, 1));
  }
  forward(x: Tensor, context: Tensor): Tensor {
    return tidy(() => {
      const [b, c, h, w] = x.shape;
      const inner = this.o.heads * this.o.dimHead;
      let y = this.norm.forward(x);
      const toTokens = (t: Tensor, ch: number) => reshape(permute(t, [0, 2, 3, 1]), [b, h * w, ch]);
      const toMap = (t: Tensor, ch: number) => permute(reshape(t, [b, h, w, ch]), [0, 3, 1, 2]);
      y = this.o.linearProjection ? (this.proj_in as Linear).forward(toTokens(y, c)) : toTokens((this.proj_in as Conv2d).forward(y), inner);
      for (const blk of this.transformer_blocks) y = blk.forward(y, context);
      y = this.o.linearProjection ? toMap((this.proj_out as Linear).forward(y), c) : (this.proj_out as Conv2d).forward(toMap(y, inner));
      return add(y, x);
    });
  }
}
