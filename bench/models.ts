// Instantiates full-size architectures with random weights (no downloads) and reports parameter bytes,
// peak pool bytes and one forward's time: SD-1.5 UNet2DConditionModel and AutoencoderKL at 64×64
// latents (the VAE decoder tiles itself where its activations exceed one binding), CLIP ViT-B/32 and
// SD-1.5's text encoder.
import { initGpu, manualSeed, noGrad, randn } from '../src/index.js';
import { UNet2DConditionModel } from '../src/models/diffusers/unet-2d-condition.js';
import { AutoencoderKL } from '../src/models/diffusers/autoencoder-kl.js';
import { CLIPModel, CLIPTextTransformer, CLIP_VIT_B32_CONFIG } from '../src/models/clip/clip-model.js';
import type { Module } from '../src/nn/module.js';

export interface ModelRow { model: string; parameters: number; paramMB: number; peakMB: number; forwardMs: number | null; note?: string }

const SD15_TEXT = {
  vocab_size: 49408, hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, max_position_embeddings: 77,
  layer_norm_eps: 1e-5, hidden_act: 'quick_gelu',
};
const SD15_VAE = {
  block_out_channels: [128, 256, 512, 512], down_block_types: Array(4).fill('DownEncoderBlock2D'), up_block_types: Array(4).fill('UpDecoderBlock2D'),
  layers_per_block: 2, latent_channels: 4, norm_num_groups: 32,
};

export async function runModelBench({ quick = false, latent = 64, only }: { quick?: boolean; latent?: number; only?: string } = {}): Promise<ModelRow[]> {
  const ctx = await initGpu();
  manualSeed(1);
  const rows: ModelRow[] = [];
  const measure = async (name: string, make: () => Module, run: ((m: Module) => unknown) | null) => {
    if (only && !name.includes(only)) return;
    await ctx.sync();
    const before = ctx.pool.snapshot().liveBytes;
    ctx.pool.resetPeak();
    let m: Module;
    try {
      m = make();
    } catch (e) {
      rows.push({ model: name, parameters: 0, paramMB: 0, peakMB: 0, forwardMs: null, note: `could not instantiate: ${(e as Error).message}` });
      return;
    }
    await ctx.sync();
    const paramBytes = ctx.pool.snapshot().liveBytes - before;
    let ms: number | null = null;
    let note: string | undefined;
    if (run && !quick) {
      try {
        const t0 = performance.now();
        noGrad(() => (run(m) as { dispose?: () => void })?.dispose?.());
        await ctx.sync();
        ms = performance.now() - t0;
      } catch (e) {
        note = `forward failed: ${(e as Error).message}`;
      }
    }
    rows.push({
      model: name, parameters: m.numParameters(), paramMB: paramBytes / 2 ** 20, peakMB: (ctx.pool.snapshot().peakLiveBytes - before) / 2 ** 20,
      forwardMs: ms, note,
    });
    m.dispose();
  };
  await measure('CLIP ViT-B/32', () => new CLIPModel(CLIP_VIT_B32_CONFIG), (m) => (m as CLIPModel).getImageFeatures(randn([1, 3, 224, 224])));
  // SD-1.5's text encoder (CLIP ViT-L/14 text): its 49408×768 f32 token embedding (152 MB) is larger than
  // a 128 MiB binding and is gathered range by range.
  const ids = [Array.from({ length: 77 }, (_, i) => (i * 7919) % 49407)];
  await measure(
    'CLIP ViT-L/14 text encoder (SD-1.5), 77 tokens',
    () => new CLIPTextTransformer(SD15_TEXT),
    (m) => (m as CLIPTextTransformer).forward(ids).lastHiddenState,
  );
  await measure(
    'CLIP ViT-L/14 text encoder (SD-1.5), f16 weights',
    () => new CLIPTextTransformer(SD15_TEXT).to('f16'),
    (m) => (m as CLIPTextTransformer).forward(ids).lastHiddenState,
  );
  await measure(
    'AutoencoderKL (SD-1.5) decode, f16 weights',
    () => new AutoencoderKL(SD15_VAE).to('f16'),
    (m) => (m as AutoencoderKL).decode(randn([1, 4, latent, latent])),
  );
  await measure(
    'UNet2DConditionModel (SD-1.5), f16 weights',
    () => new UNet2DConditionModel({}).to('f16'),
    (m) => (m as UNet2DConditionModel).forward(randn([1, 4, latent, latent]), 500, randn([1, 77, 768])),
  );
  return rows;
}
