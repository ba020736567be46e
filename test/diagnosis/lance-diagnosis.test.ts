// A LANCE stress test end to end at the smallest size: the fixture Stable Diffusion folder as the
// generator, the shipped smile_blond as the target, the world CLIP as reader, similarity and filter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StableDiffusionPipeline } from '../../src/pipelines/stable-diffusion.js';
import { memoryDir } from '../../src/models/weights-dir.js';
import { lanceDiagnosis } from '../../src/diagnosis/lance-diagnosis.js';
import { worldCaptioner, worldPerturber } from '../../src/diagnosis/lance-captions.js';
import { clipAttributeReader } from '../../src/diagnosis/attribute-reader.js';
import { CLIPModel, SmallConvNet, add, mul, type Tensor } from '../../src/index.js';
import { loadTokenizer } from '../../src/models/pretrained.js';
import { tokenizeBatch } from '../../src/train/tasks.js';
import { Rng, sampleAttributes } from '../../src/world/index.js';
import { fixturePipelineFiles } from '../helpers/sd-fixture.js';
import { worldImages } from '../helpers/world-images.js';
import { setupGpu } from '../helpers/gpu.js';

let pipe: StableDiffusionPipeline;
beforeAll(async () => {
  await setupGpu();
  pipe = await StableDiffusionPipeline.fromPretrained(memoryDir('sd', await fixturePipelineFiles()));
});
afterAll(() => pipe?.dispose());

describe('LANCE diagnosis', () => {
  it('captions, perturbs, checks, edits, filters and measures Δp per edit type and cluster', async () => {
    const clip = await CLIPModel.fromPretrained('models/defaults/clip');
    const tok = await loadTokenizer('models/defaults/clip');
    const clf = await SmallConvNet.fromPretrained('models/defaults/smile_blond');
    const rng = new Rng(3);
    const faces = Array.from({ length: 1 }, () => sampleAttributes(rng));
    const images = worldImages(faces);
    const r = await lanceDiagnosis({
      pipe, classify: (x: Tensor) => clf.forward(mul(add(x, 1), 0.5)), images, labels: faces.map((f) => (f.smiling ? 1 : 0)),
      reader: clipAttributeReader(clip), captioner: worldCaptioner, perturber: worldPerturber('smiling', new Rng(4)),
      classWords: ['smiling', 'neutral'], clip, tokenize: (t) => tokenizeBatch(tok, t), steps: 2, innerSteps: 1, selfReplace: [0.4],
      editsPerImage: 2, minDirectional: -1, minImageSimilarity: -1, requireCloser: false, clusters: 2,
    });
    expect(r.edits).toHaveLength(2);
    for (const e of r.edits) {
      expect(e.attribute).not.toBe('smiling');
      expect(Number.isFinite(e.deltaP) && Number.isFinite(e.directional)).toBe(true);
      expect(e.why).toBeUndefined();
      expect(e.kept).toBe(true);
      expect(e.source).toHaveLength(3 * 32 * 32);
    }
    expect(Object.values(r.byType).reduce((s, t) => s + t.edits, 0)).toBe(2);
    expect(r.clusters.reduce((s, c) => s + c.edits, 0)).toBe(2);
    for (const v of Object.values(r.accuracy)) expect(v >= 0 && v <= 1).toBe(true);
    expect(r.deltaAcc).toBeCloseTo(r.accuracy.edited - r.accuracy.reconstructed, 10);
    images.dispose();
    clip.dispose();
    clf.dispose();
  }, 120_000);
});
