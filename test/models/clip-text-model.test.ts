import { beforeAll, describe, expect, it } from 'vitest';
import { CLIPModel } from '../../src/models/clip/clip-model.js';
import { CLIPTextModel, clipTextConfig } from '../../src/models/clip/clip-text-model.js';
import { memoryDir } from '../../src/models/weights-dir.js';
import { modelFixture } from '../helpers/fixtures.js';
import { textEncoderFiles } from '../helpers/sd-fixture.js';
import { assertClose, setupGpu } from '../helpers/gpu.js';

const fx = modelFixture('clip_A');

beforeAll(async () => {
  await setupGpu();
});

function idRows(): number[][] {
  const a = fx.get('input_ids');
  const [b, l] = a.shape;
  return Array.from({ length: b }, (_, i) => Array.from(a.data.slice(i * l, (i + 1) * l)));
}

describe('CLIPTextModel (transformers layout)', () => {
  it("loads a CLIPModel folder's text tower: transformers' hidden states and pooled output, the same as CLIPModel's tower", async () => {
    const ids = idRows();
    const text = await CLIPTextModel.fromPretrained(fx.dir);
    expect(text.config.hidden_size).toBe(32);
    const out = text.forward(ids);
    const hidden = await out.lastHiddenState.toArray();
    assertClose(hidden, fx.get('text_last_hidden').data, fx.tol, 'text_last_hidden');
    assertClose(await out.pooled.toArray(), fx.get('text_pooled').data, fx.tol, 'text_pooled');
    const clip = await CLIPModel.fromPretrained(fx.dir);
    assertClose(hidden, await clip.text_model.forward(ids).lastHiddenState.toArray(), { atol: 0, rtol: 0 }, 'CLIPModel text tower');
    clip.dispose();

    const flat = await CLIPTextModel.fromPretrained(memoryDir('text_encoder', await textEncoderFiles((t) => {
      // Older checkpoints (SD 1.x's text encoder) carry this buffer; transformers skips it.
      t['text_model.embeddings.position_ids'] = { dtype: 'I64', shape: [1, 77], data: BigInt64Array.from({ length: 77 }, (_, i) => BigInt(i)) };
    })));
    assertClose(await flat.forward(ids).lastHiddenState.toArray(), hidden, { atol: 0, rtol: 0 }, 'flat text_encoder folder');
    flat.dispose();
    text.dispose();
  });

  it('reads a flat CLIPTextConfig and a CLIPModel text_config alike', () => {
    const nested = clipTextConfig(fx.config);
    const flat = clipTextConfig({ architectures: ['CLIPTextModel'], ...fx.config.text_config, projection_dim: 99 });
    expect(flat).toEqual(nested);
    expect(nested).toMatchObject({ hidden_size: 32, num_hidden_layers: 2, max_position_embeddings: 77, hidden_act: 'quick_gelu', eos_token_id: 2 });
    expect(clipTextConfig({ hidden_size: 64 }).intermediate_size).toBe(2048);
  });

  it('refuses keys that are not the tower in a flat folder, missing keys, and other architectures', async () => {
    const stray = await textEncoderFiles((t) => {
      t['vision_model.post_layernorm.bias'] = { dtype: 'F32', shape: [32], data: new Float32Array(32) };
    });
    await expect(CLIPTextModel.fromPretrained(memoryDir('te', stray))).rejects.toThrow(/unexpected keys: vision_model\.post_layernorm\.bias/);
    const missing = await textEncoderFiles((t) => {
      delete t['text_model.final_layer_norm.bias'];
    });
    await expect(CLIPTextModel.fromPretrained(memoryDir('te', missing))).rejects.toThrow(/missing keys: text_model\.final_layer_norm\.bias/);
    const vision = await textEncoderFiles(undefined, { architectures: ['CLIPVisionModel'] });
    await expect(CLIPTextModel.fromPretrained(memoryDir('te', vision))).rejects.toThrow(/architectures is \["CLIPVisionModel"\]; it loads transformers' CLIPTextModel/);
    const t5 = await textEncoderFiles(undefined, { architectures: undefined, model_type: 't5' });
    await expect(CLIPTextModel.fromPretrained(memoryDir('te', t5))).rejects.toThrow(/model_type is 't5'/);
  });
});
