// DiG-IN's spurious-vs-core neuron test on the world: a synthetic feature map with known answers, then the
// shipped classifiers, whose regions the renderer knows (smile_blond's decision channels sit on the hair,
// the unbiased control's on the mouth).
import { beforeAll, describe, expect, it } from 'vitest';
import { SmallConvNet, fromArray, type Tensor } from '../../src/index.js';
import { neuronRegions } from '../../src/diagnosis/neuron-regions.js';
import { WorldDataset } from '../../src/world/dataset.js';
import { attributeRegion } from '../../src/world/render.js';
import { setupGpu } from '../helpers/gpu.js';

beforeAll(async () => { await setupGpu(); });

describe('neuronRegions', () => {
  it('shares, densities and contributions of a feature map with known answers', async () => {
    // Two images 4×4, features at the image's resolution: channel 0 fires only on the left half, channel 1 everywhere.
    const feat = new Float32Array(2 * 2 * 16);
    for (let n = 0; n < 2; n++) {
      for (let p = 0; p < 16; p++) {
        feat[(n * 2) * 16 + p] = (p % 4) < 2 ? 1 : 0;
        feat[(n * 2 + 1) * 16 + p] = 1;
      }
    }
    const left = Uint8Array.from({ length: 16 }, (_, p) => ((p % 4) < 2 ? 1 : 0));
    const top = Uint8Array.from({ length: 16 }, (_, p) => (p < 8 ? 1 : 0));
    const r = await neuronRegions({
      features: () => fromArray(feat, [2, 2, 4, 4]), headWeight: Float32Array.from([0, 0, 2, -1]), classes: 2, cls: 1,
      images: fromArray(new Float32Array(2 * 3 * 16), [2, 3, 4, 4]), regions: { left: [left, left], top: [top, top] },
    });
    const byChannel = (c: number) => r.rows.find((x) => x.channel === c)!;
    expect(byChannel(0).share.left).toBeCloseTo(1, 5);
    expect(byChannel(0).density.left).toBeCloseTo(2, 5);
    expect(byChannel(0).responds).toBe('left');
    expect(byChannel(1).share.top).toBeCloseTo(0.5, 5);
    expect(byChannel(1).density.top).toBeCloseTo(1, 5);
    expect(byChannel(0).contribution).toBeCloseTo(2 * 0.5, 5); // w[1,0] − w[0,0] = 2, mean activation 0.5
    expect(byChannel(1).contribution).toBeCloseTo(-1, 5);
    expect(r.rows[0].channel).toBe(0);
    expect(r.weightedShare.left).toBeCloseTo((1 * 1 + 1 * 0.5) / 2, 5);
    expect(r.area.top).toBeCloseTo(0.5, 5);
  });

  it("smile_blond's decision rests on channels that fire on the hair; the control's on the mouth", async () => {
    const ds = new WorldDataset({ label: 'smiling', spurious: 'hair_color=blond', balanced: true, n: 16, seed: 5, size: 32, range: '01' });
    const images: Tensor = fromArray(ds.all().images, [ds.n, 3, 32, 32]);
    const regions = {
      mouth: ds.attributes.map((a, i) => attributeRegion('smiling', a, ds.renderOptions(i))),
      hair: ds.attributes.map((a, i) => attributeRegion('hair_color', a, ds.renderOptions(i))),
    };
    const report = async (name: string) => {
      const m = await SmallConvNet.fromPretrained(`models/defaults/${name}`);
      m.eval();
      const headWeight = Float32Array.from(await m.fc.weight.toArray());
      const r = await neuronRegions({ features: (x) => m.features(x), headWeight, classes: 2, cls: 1, images, regions });
      m.dispose();
      return r;
    };
    const biased = await report('smile_blond');
    const control = await report('smile_control');
    expect(biased.rows.slice(0, 5).filter((r) => r.responds === 'hair').length).toBeGreaterThanOrEqual(4);
    expect(control.rows.slice(0, 5).filter((r) => r.responds === 'mouth').length).toBeGreaterThanOrEqual(4);
    expect(biased.weightedShare.hair).toBeGreaterThan(control.weightedShare.hair + 0.1);
    expect(control.weightedShare.mouth).toBeGreaterThan(2 * biased.weightedShare.mouth);
  }, 60_000);
});
