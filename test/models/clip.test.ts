import { beforeAll, describe, expect, it } from 'vitest';
import { CLIPModel } from '../../src/models/clip/clip-model.js';
import { backward, tidy } from '../../src/index.js';
import { modelFixture, upload } from '../helpers/fixtures.js';
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

describe('CLIPModel (transformers layout)', () => {
  it('matches text and vision towers, projections, logits and the pixel gradient', async () => {
    const clip = await CLIPModel.fromPretrained(fx.dir);
    const ids = idRows();
    const text = clip.text_model.forward(ids);
    assertClose(await text.lastHiddenState.toArray(), fx.get('text_last_hidden').data, fx.tol, 'text_last_hidden');
    assertClose(await text.pooled.toArray(), fx.get('text_pooled').data, fx.tol, 'text_pooled');
    const pixels = upload(fx.get('pixel_values')).requiresGrad_();
    const vision = clip.vision_model.forward(pixels);
    assertClose(await vision.lastHiddenState.toArray(), fx.get('vision_last_hidden').data, fx.tol, 'vision_last_hidden');
    assertClose(await vision.pooled.toArray(), fx.get('vision_pooled').data, fx.tol, 'vision_pooled');
    assertClose(await clip.getTextFeatures(ids).toArray(), fx.get('text_embeds').data, fx.tol, 'text_embeds');
    const imageEmbeds = clip.getImageFeatures(pixels);
    assertClose(await imageEmbeds.toArray(), fx.get('image_embeds').data, fx.tol, 'image_embeds');
    const out = clip.forward(ids, pixels);
    assertClose(await out.textEmbeds.toArray(), fx.get('text_embeds_norm').data, fx.tol, 'text_embeds_norm');
    assertClose(await out.logitsPerText.toArray(), fx.get('logits_per_text').data, fx.tol, 'logits_per_text');
    assertClose(await out.logitsPerImage.toArray(), fx.get('logits_per_image').data, fx.tol, 'logits_per_image');
    tidy(() => backward(imageEmbeds, upload(fx.get('R'))));
    assertClose(await pixels.grad!.toArray(), fx.get('grad_pixel_values').data, fx.tol, 'grad_pixel_values');
    expect(clip.config.text_config.hidden_act).toBe('quick_gelu');
  });
});
