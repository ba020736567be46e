// The world diagnosis on the shipped default models: it finds the planted shortcut, not a made-up one.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIPModel, DDIMScheduler, SmallConvNet, SmallSegmenter, UNet2DModel, add, mul } from '../../src/index.js';
import { clipAttributeReader, type AttributeReader } from '../../src/diagnosis/attribute-reader.js';
import { diagnoseWorld, exactTargetSensitivity, type WorldDiagnosis } from '../../src/diagnosis/world-diagnosis.js';
import { classifierTarget, keypointTarget, segmenterTarget } from '../../src/diagnosis/targets.js';
import { WorldDataset } from '../../src/world/dataset.js';
import { worldReport } from '../../src/report/world-report.js';
import { readJsonFile as readJson } from '../../src/models/pretrained.js';
import { setupGpu } from '../helpers/gpu.js';

const DIR = 'models/defaults';
let clip: CLIPModel;
let reader: AttributeReader;
let unet: UNet2DModel;
let scheduler: DDIMScheduler;

beforeAll(async () => {
  await setupGpu();
  clip = await CLIPModel.fromPretrained(join(DIR, 'clip'));
  reader = clipAttributeReader(clip);
  unet = await UNet2DModel.fromPretrained(join(DIR, 'ddpm'));
  scheduler = new DDIMScheduler(await readJson(join(DIR, 'ddpm'), 'scheduler_config.json'));
});

async function run(name: string, counterfactuals = 0): Promise<WorldDiagnosis> {
  const target = await SmallConvNet.fromPretrained(join(DIR, name));
  const cfg = await readJson(join(DIR, name), 'config.json');
  const d = await diagnoseWorld({
    target, label: cfg.cflens_label as string, spurious: cfg.cflens_spurious as string | null, reader, unet, scheduler, faces: 32, counterfactuals,
    iterations: 1, ddimSteps: 10, invertSteps: 2,
  });
  target.dispose();
  return d;
}
const sens = (d: WorldDiagnosis, a: string) => d.sensitivity.find((s) => s.attribute === a)!.meanAbsDelta;

describe('diagnoseWorld', () => {
  it('smile_blond is sensitive to hair colour (its planted shortcut), the control much less', async () => {
    const biased = await run('smile_blond');
    const control = await run('smile_control');
    expect(biased.sensitivity).toHaveLength(13);
    expect(sens(biased, 'hair_color')).toBeGreaterThan(2 * sens(biased, 'eye_color'));
    expect(sens(biased, 'hair_color')).toBeGreaterThan(2 * sens(control, 'hair_color'));
    expect(sens(control, 'smiling')).toBeGreaterThan(sens(control, 'hair_color'));
  }, 120_000);

  it('the exact oracle of any target: the classifier ranks its shortcut first; keypoints and the segmenter move with face shape and hat', async () => {
    const ds = new WorldDataset({ label: 'smiling', spurious: 'hair_color=blond', balanced: true, n: 32, seed: 5, size: 32, range: 'pm1' });
    const clf = await SmallConvNet.fromPretrained(join(DIR, 'smile_blond'));
    const s = await exactTargetSensitivity(classifierTarget('smile_blond', (x) => clf.forward(mul(add(x, 1), 0.5))), ds, 0, 32);
    expect(s).toHaveLength(13);
    expect(s[0].attribute).toBe('hair_color');
    const kp = await SmallConvNet.fromPretrained(join(DIR, 'keypoints'));
    const k = await exactTargetSensitivity(keypointTarget('keypoints', (x) => kp.forward(mul(add(x, 1), 0.5))), ds, 0, 32);
    const seg = await SmallSegmenter.fromPretrained(join(DIR, 'segmenter'));
    const g = await exactTargetSensitivity(segmenterTarget('segmenter', (x) => seg.forward(mul(add(x, 1), 0.5))), ds, 0, 32);
    const at = (r: typeof s, a: string) => r.find((x) => x.attribute === a)!.meanAbsDelta;
    // Measured: the keypoint regressor moves most with the background colour (1.58) and brightness (1.57) —
    // a real weakness of that model (face shape, which moves the true keypoints, 0.61) — and least with earrings.
    expect(k).toHaveLength(13);
    expect(k.every((x) => Number.isFinite(x.meanAbsDelta) && x.meanAbsDelta > 0)).toBe(true);
    // A hat covers hair and background pixels: the most pixels change class; eye colour changes few.
    expect(g[0].attribute).toBe('hat');
    expect(at(g, 'hat')).toBeGreaterThan(2 * at(g, 'eye_color'));
    for (const m of [clf, kp, seg]) m.dispose();
  }, 60_000);

  it('glasses_bluebg is sensitive to the background colour', async () => {
    const d = await run('glasses_bluebg');
    expect(sens(d, 'background_color')).toBeGreaterThan(2 * sens(d, 'eye_color'));
  }, 120_000);

  it('generative counterfactuals and the report', async () => {
    const d = await run('smile_blond', 1);
    expect(d.counterfactuals).toHaveLength(1);
    const c = d.counterfactuals[0];
    expect(c.before).toHaveLength(3 * 32 * 32);
    expect(c.after).toHaveLength(3 * 32 * 32);
    expect(Number.isFinite(c.pixelChange) && c.pixelChange > 0).toBe(true);
    expect(c.pAfter).not.toBe(c.pBefore);
    const files = worldReport(d, { target: 'smile_blond', size: 32, models: DIR, elapsedMs: 1 });
    expect(Array.from(files['pairs.png'].subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]);
    const json = JSON.parse(files['report.json']);
    expect(json.sensitivity[0].attribute).toBe(d.sensitivity[0].attribute);
    expect(files['report.html']).toContain('data:image/png;base64,');
  }, 120_000);
});
