import { Module } from '../../nn/module.js';
import type { LoadOptions } from '../pretrained.js';
import type { WeightsDir } from '../weights-dir.js';
import { loadPretrained } from '../load-lazy.js';
import { CLIP_VIT_B32_CONFIG, CLIPTextTransformer, type CLIPTextConfig, type TextOutput, type TokenIds } from './clip-model.js';

const TEXT_KEYS: readonly (keyof CLIPTextConfig)[] = [...Object.keys(CLIP_VIT_B32_CONFIG.text_config) as (keyof CLIPTextConfig)[], 'eos_token_id'];

/** The folders whose text tower loads here, and the checkpoint keys of theirs that are not part of it. */
const SOURCES = {
  CLIPTextModel: [],
  CLIPTextModelWithProjection: ['text_projection.'],
  CLIPModel: ['vision_model.', 'visual_projection.', 'text_projection.', 'logit_scale'],
} as const;
type Source = keyof typeof SOURCES;

/** Which transformers class a config.json describes; refuses anything that is not a CLIP text tower. */
export function clipTextSource(json: Record<string, unknown>): Source {
  const archs = Array.isArray(json.architectures) ? json.architectures.map(String) : [];
  const known = archs.find((a): a is Source => a in SOURCES);
  if (archs.length && !known) {
    throw new Error(
      `cflens: CLIPTextModel: config.json's architectures is ${JSON.stringify(archs)}; it loads transformers' ${Object.keys(SOURCES).join(', ')} ` +
      '(a CLIPModel folder gives its text tower)',
    );
  }
  const type = json.model_type;
  if (type !== undefined && type !== 'clip_text_model' && type !== 'clip') {
    throw new Error(`cflens: CLIPTextModel: config.json's model_type is '${String(type)}'; it loads 'clip_text_model' or 'clip' (a CLIPModel's text tower)`);
  }
  return known ?? (json.text_config !== undefined || type === 'clip' ? 'CLIPModel' : 'CLIPTextModel');
}

/**
 * The text tower's config from transformers' config.json: a CLIPTextModel's flat CLIPTextConfig (a Stable
 * Diffusion text_encoder/) or a CLIPModel's text_config, with the ViT-B/32 defaults under anything it leaves out.
 */
export function clipTextConfig(json: Record<string, unknown>): CLIPTextConfig {
  const src = (clipTextSource(json) === 'CLIPModel' ? json.text_config ?? {} : json) as Record<string, unknown>;
  const c: Record<string, unknown> = { ...CLIP_VIT_B32_CONFIG.text_config };
  for (const k of TEXT_KEYS) if (src[k] !== undefined && src[k] !== null) c[k] = src[k];
  return c as unknown as CLIPTextConfig;
}

/**
 * transformers' CLIPTextModel (same key names: text_model.embeddings…, text_model.encoder.layers…,
 * text_model.final_layer_norm…): the text encoder of Stable Diffusion. forward(ids) gives the final
 * hidden states [B, L, D] (the UNet's conditioning) and the EOS-pooled [B, D].
 */
export class CLIPTextModel extends Module {
  /**
   * A transformers CLIPTextModel folder (a Stable Diffusion text_encoder/), or a CLIPTextModelWithProjection
   * or CLIPModel folder for its text tower: their projection and vision weights are skipped, by name. The
   * position_ids buffer older checkpoints carry is skipped as transformers skips it; any other key that is
   * not the tower's, and every missing one, is an error unless `strict: false`.
   */
  static fromPretrained(dir: string | WeightsDir, opts: LoadOptions & { weights?: string } = {}): Promise<CLIPTextModel> {
    let skipped: readonly string[] = [];
    const keyMap = (k: string): string | null => {
      const m = opts.keyMap ? opts.keyMap(k) : k;
      if (m === null || m === 'text_model.embeddings.position_ids' || skipped.some((p) => m.startsWith(p))) return null;
      return m;
    };
    return loadPretrained(dir, (json) => {
      skipped = SOURCES[clipTextSource(json)];
      return new CLIPTextModel(clipTextConfig(json));
    }, { ...opts, keyMap });
  }

  readonly config: CLIPTextConfig;
  text_model: CLIPTextTransformer;
  constructor(config: CLIPTextConfig = CLIP_VIT_B32_CONFIG.text_config) {
    super();
    this.config = config;
    this.text_model = this.child('text_model', new CLIPTextTransformer(config));
  }

  /** Token ids [B][L] (one length) → lastHiddenState [B, L, D] and pooled [B, D]. */
  forward(ids: TokenIds): TextOutput {
    return this.text_model.forward(ids);
  }
}
