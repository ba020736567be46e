import { tidy } from '../../autograd/scope.js';
import type { Tensor } from '../../autograd/tensor.js';
import { gelu, quickGelu } from '../../ops/activation.js';
import { scaledDotProductAttention } from '../../ops/attention.js';
import { fromArray, full } from '../../ops/creation.js';
import { add, div, exp, mul, sqrt } from '../../ops/elementwise.js';
import { embedding } from '../../ops/embedding.js';
import { indexSelect } from '../../ops/gather.js';
import { matmul } from '../../ops/matmul.js';
import { sum } from '../../ops/reduce.js';
import { concat, permute, reshape, transpose, broadcastTo, narrow } from '../../ops/shape.js';
import { asF32, Conv2d, LayerNorm, Linear, ModuleList } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import type { LoadOptions } from '../pretrained.js';
import type { WeightsDir } from '../weights-dir.js';
import { loadPretrained } from '../load-lazy.js';

export interface CLIPTextConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  layer_norm_eps: number;
  hidden_act: string;
  eos_token_id?: number;
}

export interface CLIPVisionConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  image_size: number;
  patch_size: number;
  num_channels: number;
  layer_norm_eps: number;
  hidden_act: string;
}

export interface CLIPConfig {
  projection_dim: number;
  logit_scale_init_value: number;
  /**
   * The pixels the image tower was trained on: 'openai' (transformers' CLIPImageProcessor: [0, 1] minus
   * the OpenAI mean, over its std; the default) or 'pm1' ([-1, 1], the world CLIP: config.json's
   * cflens_pixel_range).
   */
  pixel_range?: 'openai' | 'pm1';
  /**
   * Names of the image projection's first outputs where they were trained as attribute sigmoids
   * (config.json's cflens_attribute_columns; the world CLIP): `glasses`, `hair_color=red`, ...
   */
  attribute_columns?: readonly string[];
  text_config: CLIPTextConfig;
  vision_config: CLIPVisionConfig;
}

export const CLIP_VIT_B32_CONFIG: CLIPConfig = {
  projection_dim: 512,
  logit_scale_init_value: 2.6592,
  text_config: {
    vocab_size: 49408, hidden_size: 512, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 8, max_position_embeddings: 77,
    layer_norm_eps: 1e-5, hidden_act: 'quick_gelu',
  },
  vision_config: {
    hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, image_size: 224, patch_size: 32, num_channels: 3,
    layer_norm_eps: 1e-5, hidden_act: 'quick_gelu',
  },
};

/** A transformers config.json object with the ViT-B/32 defaults under anything it leaves out. */
export function clipConfig(json: Record<string, unknown>): CLIPConfig {
  const d = CLIP_VIT_B32_CONFIG;
  return {
    projection_dim: (json.projection_dim as number) ?? d.projection_dim,
    logit_scale_init_value: (json.logit_scale_init_value as number) ?? d.logit_scale_init_value,
    text_config: { ...d.text_config, ...(json.text_config as object) },
    vision_config: { ...d.vision_config, ...(json.vision_config as object) },
    pixel_range: json.cflens_pixel_range === 'pm1' ? 'pm1' : 'openai',
    ...(Array.isArray(json.cflens_attribute_columns) ? { attribute_columns: json.cflens_attribute_columns.map(String) } : {}),
  };
}

function act(name: string, x: Tensor): Tensor {
  if (name === 'quick_gelu') return quickGelu(x);
  if (name === 'gelu') return gelu(x);
  if (name === 'gelu_new' || name === 'gelu_pytorch_tanh') return gelu(x, { approximate: 'tanh' });
  throw new Error(`cflens: CLIP: unsupported hidden_act '${name}' (quick_gelu, gelu, gelu_new)`);
}

class CLIPAttention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  out_proj: Linear;
  constructor(readonly dim: number, readonly heads: number) {
    super();
    this.q_proj = this.child('q_proj', new Linear(dim, dim));
    this.k_proj = this.child('k_proj', new Linear(dim, dim));
    this.v_proj = this.child('v_proj', new Linear(dim, dim));
    this.out_proj = this.child('out_proj', new Linear(dim, dim));
  }
  forward(x: Tensor, causal: boolean): Tensor {
    return tidy(() => {
      const [b, l] = x.shape;
      const d = this.dim / this.heads;
      const split = (t: Tensor) => permute(reshape(t, [b, l, this.heads, d]), [0, 2, 1, 3]);
      const o = scaledDotProductAttention(split(this.q_proj.forward(x)), split(this.k_proj.forward(x)), split(this.v_proj.forward(x)), { causal });
      return this.out_proj.forward(reshape(permute(o, [0, 2, 1, 3]), [b, l, this.dim]));
    });
  }
}

class CLIPMLP extends Module {
  fc1: Linear;
  fc2: Linear;
  constructor(dim: number, inner: number, readonly actName: string) {
    super();
    this.fc1 = this.child('fc1', new Linear(dim, inner));
    this.fc2 = this.child('fc2', new Linear(inner, dim));
  }
  forward(x: Tensor): Tensor { return tidy(() => this.fc2.forward(act(this.actName, this.fc1.forward(x)))); }
}

class CLIPEncoderLayer extends Module {
  self_attn: CLIPAttention;
  layer_norm1: LayerNorm;
  mlp: CLIPMLP;
  layer_norm2: LayerNorm;
  constructor(c: CLIPTextConfig | CLIPVisionConfig) {
    super();
    this.self_attn = this.child('self_attn', new CLIPAttention(c.hidden_size, c.num_attention_heads));
    this.layer_norm1 = this.child('layer_norm1', new LayerNorm(c.hidden_size, { eps: c.layer_norm_eps }));
    this.mlp = this.child('mlp', new CLIPMLP(c.hidden_size, c.intermediate_size, c.hidden_act));
    this.layer_norm2 = this.child('layer_norm2', new LayerNorm(c.hidden_size, { eps: c.layer_norm_eps }));
  }
  forward(x: Tensor, causal: boolean): Tensor {
    return tidy(() => {
      const h = add(x, this.self_attn.forward(this.layer_norm1.forward(x), causal));
      return add(h, this.mlp.forward(this.layer_norm2.forward(h)));
    });
  }
}

class CLIPEncoder extends Module {
  layers: ModuleList<CLIPEncoderLayer>;
  constructor(c: CLIPTextConfig | CLIPVisionConfig) {
    super();
    this.layers = this.child('layers', new ModuleList(Array.from({ length: c.num_hidden_layers }, () => new CLIPEncoderLayer(c))));
  }
  forward(x: Tensor, causal: boolean): Tensor {
    return tidy(() => {
      let h = x;
      for (const l of this.layers) h = l.forward(h, causal);
      return h;
    });
  }
}

export interface TextOutput { lastHiddenState: Tensor; pooled: Tensor }
export interface VisionOutput { lastHiddenState: Tensor; pooled: Tensor }

/** Token ids as rows of numbers (padded to one length) or an i32 tensor [B, L]. */
export type TokenIds = readonly (readonly number[])[];

export class CLIPTextTransformer extends Module {
  embeddings: Module & { token_embedding: Module & { weight: Tensor }; position_embedding: Module & { weight: Tensor } };
  encoder: CLIPEncoder;
  final_layer_norm: LayerNorm;
  constructor(readonly c: CLIPTextConfig) {
    super();
    const emb = new (class extends Module {
      token_embedding = this.child('token_embedding', new (class extends Module { weight = this.param('weight', full([c.vocab_size, c.hidden_size], 0)); })());
      position_embedding = this.child('position_embedding', new (class extends Module {
        weight = this.param('weight', full([c.max_position_embeddings, c.hidden_size], 0));
      })());
    })();
    this.embeddings = this.child('embeddings', emb);
    this.encoder = this.child('encoder', new CLIPEncoder(c));
    this.final_layer_norm = this.child('final_layer_norm', new LayerNorm(c.hidden_size, { eps: c.layer_norm_eps }));
  }

  forward(ids: TokenIds): TextOutput {
    const b = ids.length;
    const l = ids[0]?.length ?? 0;
    if (l > this.c.max_position_embeddings) throw new Error(`cflens: CLIP text: ${l} tokens exceed max_position_embeddings ${this.c.max_position_embeddings}`);
    return tidy(() => {
      const flat = Int32Array.from(ids.flat());
      const tok = reshape(embedding(asF32(this.embeddings.token_embedding.weight), fromArray(flat, [b * l])), [b, l, this.c.hidden_size]);
      const pos = narrow(asF32(this.embeddings.position_embedding.weight), 0, 0, l);
      const h = this.final_layer_norm.forward(this.encoder.forward(add(tok, pos), true));
      // EOS pooling: the position of the largest id in each row (the EOT token for CLIP vocabularies).
      const rows = ids.map((row, i) => i * l + row.indexOf(Math.max(...row)));
      const pooled = indexSelect(reshape(h, [b * l, this.c.hidden_size]), 0, fromArray(Int32Array.from(rows), [b]));
      return { lastHiddenState: h, pooled };
    });
  }
}

export class CLIPVisionTransformer extends Module {
  embeddings: Module & { class_embedding: Tensor; patch_embedding: Conv2d; position_embedding: Module & { weight: Tensor } };
  pre_layrnorm: LayerNorm;
  encoder: CLIPEncoder;
  post_layernorm: LayerNorm;
  constructor(readonly c: CLIPVisionConfig) {
    super();
    const patches = (c.image_size / c.patch_size) ** 2;
    const emb = new (class extends Module {
      class_embedding = this.param('class_embedding', full([c.hidden_size], 0));
      patch_embedding = this.child('patch_embedding', new Conv2d(c.num_channels, c.hidden_size, c.patch_size, { stride: c.patch_size, bias: false }));
      position_embedding = this.child('position_embedding', new (class extends Module {
        weight = this.param('weight', full([patches + 1, c.hidden_size], 0));
      })());
    })();
    this.embeddings = this.child('embeddings', emb);
    this.pre_layrnorm = this.child('pre_layrnorm', new LayerNorm(c.hidden_size, { eps: c.layer_norm_eps }));
    this.encoder = this.child('encoder', new CLIPEncoder(c));
    this.post_layernorm = this.child('post_layernorm', new LayerNorm(c.hidden_size, { eps: c.layer_norm_eps }));
  }

  forward(pixels: Tensor): VisionOutput {
    return tidy(() => {
      const b = pixels.shape[0];
      const d = this.c.hidden_size;
      const p = this.embeddings.patch_embedding.forward(pixels); // [B, D, gh, gw]
      const tokens = transpose(reshape(p, [b, d, p.shape[2] * p.shape[3]]), 1, 2);
      const cls = broadcastTo(reshape(asF32(this.embeddings.class_embedding), [1, 1, d]), [b, 1, d]);
      const x = add(concat([cls, tokens], 1), asF32(this.embeddings.position_embedding.weight));
      const h = this.encoder.forward(this.pre_layrnorm.forward(x), false);
      const pooled = this.post_layernorm.forward(reshape(narrow(h, 1, 0, 1), [b, d]));
      return { lastHiddenState: h, pooled };
    });
  }
}

function l2normalize(x: Tensor): Tensor {
  return tidy(() => div(x, sqrt(sum(mul(x, x), -1, true))));
}

export interface CLIPOutput {
  logitsPerImage: Tensor;
  logitsPerText: Tensor;
  textEmbeds: Tensor;
  imageEmbeds: Tensor;
}

/** HF transformers CLIPModel (same key names): text and vision towers, projections, logit scale. */
export class CLIPModel extends Module {
  /** A transformers CLIPModel folder (config.json + model.safetensors or pytorch_model.bin). */
  static fromPretrained(dir: string | WeightsDir, opts: LoadOptions & { weights?: string } = {}): Promise<CLIPModel> {
    return loadPretrained(dir, (c) => new CLIPModel(clipConfig(c)), opts);
  }

  readonly config: CLIPConfig;
  text_model: CLIPTextTransformer;
  vision_model: CLIPVisionTransformer;
  text_projection: Linear;
  visual_projection: Linear;
  logit_scale: Tensor;
  constructor(config: CLIPConfig = CLIP_VIT_B32_CONFIG) {
    super();
    this.config = config;
    this.text_model = this.child('text_model', new CLIPTextTransformer(config.text_config));
    this.vision_model = this.child('vision_model', new CLIPVisionTransformer(config.vision_config));
    this.text_projection = this.child('text_projection', new Linear(config.text_config.hidden_size, config.projection_dim, { bias: false }));
    this.visual_projection = this.child('visual_projection', new Linear(config.vision_config.hidden_size, config.projection_dim, { bias: false }));
    this.logit_scale = this.param('logit_scale', full([], config.logit_scale_init_value));
  }

  getTextFeatures(ids: TokenIds): Tensor {
    return tidy(() => this.text_projection.forward(this.text_model.forward(ids).pooled));
  }

  getImageFeatures(pixels: Tensor): Tensor {
    return tidy(() => this.visual_projection.forward(this.vision_model.forward(pixels).pooled));
  }

  forward(ids: TokenIds, pixels: Tensor): CLIPOutput {
    return tidy(() => {
      const textEmbeds = l2normalize(this.getTextFeatures(ids));
      const imageEmbeds = l2normalize(this.getImageFeatures(pixels));
      const logitsPerText = mul(matmul(textEmbeds, transpose(imageEmbeds, 0, 1)), exp(asF32(this.logit_scale)));
      return { logitsPerText, logitsPerImage: transpose(logitsPerText, 0, 1), textEmbeds, imageEmbeds };
    });
  }
}

export { l2normalize };
