// cflens digin spurious: DiG-IN's spurious-vs-core neuron test (neuron-regions.ts) on world faces, for a
// classifier with a planted shortcut (--f, default smile_blond) beside a comparison model (--g, default the
// unbiased smile_control): where the channels that drive the decision fire — the labelled attribute's
// region (core) or the shortcut's (spurious), both known exactly from the renderer.
import { join } from 'node:path';
import { initGpu } from '../gpu/index.js';
import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../autograd/scope.js';
import { fromArray } from '../ops/creation.js';
import { interpolate } from '../ops/resample.js';
import { indexSelect } from '../ops/gather.js';
import { encodePng, tileImages } from '../io/png.js';
import { SmallConvNet } from '../models/index.js';
import { neuronRegions, type NeuronRegionReport } from '../diagnosis/neuron-regions.js';
import { WorldDataset } from '../world/dataset.js';
import { attributeRegion } from '../world/render.js';
import { hashSeed } from '../world/rng.js';
import { attributeSpec, type AttributeName } from '../world/attributes.js';
import { requireWorkingAdapter } from './doctor.js';
import { loadTarget } from './diagnosis-setup.js';
import { startRun } from './run-dir.js';

export interface DiginSpuriousArgs { models: string; out: string; f: string; g: string; faces: number; seed: number }

const SIZE = 32;

function attributeOf(spec: string, what: string): AttributeName {
  try {
    return attributeSpec(spec.split('=')[0]).name;
  } catch (e) {
    throw new Error(`cflens digin spurious: ${what} '${spec}': ${(e as Error).message.replace(/^cflens: /, '')}`);
  }
}

export async function diginSpuriousCommand(a: DiginSpuriousArgs): Promise<string> {
  const t0 = performance.now();
  const run = await startRun(a.out, 'digin-spurious');
  const ctx = await initGpu();
  await requireWorkingAdapter(ctx);
  const f = await loadTarget(a.models, a.f);
  if (!f.label || !f.spurious || !(f.module instanceof SmallConvNet)) {
    throw new Error(
      `cflens digin spurious: --f ${f.folder} must be a world classifier with a planted shortcut (cflens_label and cflens_spurious in its config.json)`,
    );
  }
  const core = attributeOf(f.label, 'the label');
  const spurious = attributeOf(f.spurious, 'the shortcut');
  const ds = new WorldDataset({ label: f.label, spurious: f.spurious, balanced: true, n: a.faces, seed: hashSeed(a.seed, 0x5ca3), size: SIZE, range: '01' });
  const images = fromArray(ds.all().images, [ds.n, 3, SIZE, SIZE]);
  const regions = {
    [`core (${core})`]: ds.attributes.map((x, i) => attributeRegion(core, x, ds.renderOptions(i))),
    [`spurious (${spurious})`]: ds.attributes.map((x, i) => attributeRegion(spurious, x, ds.renderOptions(i))),
  };
  const models = [f];
  if (a.g) models.push(await loadTarget(a.models, a.g));
  const reports: { model: string; report: NeuronRegionReport }[] = [];
  const frames: Float32Array[] = [];
  for (const m of models) {
    const net = m.module;
    if (!(net instanceof SmallConvNet)) throw new Error(`cflens digin spurious: ${m.folder} has no features() (a small_convnet classifier is needed)`);
    const w = Float32Array.from(await net.fc.weight.toArray());
    const report = await neuronRegions({ features: (x) => net.features(x), headWeight: w, classes: net.fc.weight.shape[0], cls: 1, images, regions });
    reports.push({ model: m.folder, report });
    // Four faces, each followed by the activation maps of the model's four strongest decision channels.
    const top = report.rows.slice(0, 4).map((r) => r.channel);
    const maps = noGrad(() => tidy(() => {
      const h = indexSelect(net.features(indexSelect(images, 0, [0, 1, 2, 3])), 1, top);
      return interpolate(h, { size: [SIZE, SIZE], mode: 'bilinear' });
    }));
    const v = Float32Array.from(await maps.toArray());
    maps.dispose();
    const face = Float32Array.from(await images.toArray());
    for (let n = 0; n < 4; n++) {
      frames.push(face.slice(n * 3 * SIZE * SIZE, (n + 1) * 3 * SIZE * SIZE).map((x) => 2 * x - 1));
      for (let k = 0; k < top.length; k++) {
        const cam = v.slice((n * top.length + k) * SIZE * SIZE, (n * top.length + k + 1) * SIZE * SIZE);
        const hi = Math.max(1e-6, ...cam);
        const grey = cam.map((x) => (2 * x) / hi - 1);
        frames.push(Float32Array.from([...grey, ...grey, ...grey]));
      }
    }
  }
  const t = tileImages(frames, SIZE, { cols: 5, scale: 3, range: 'pm1' });
  await run.write('channels.png', encodePng(t.rgb, t.width, t.height));
  const json = { settings: a, regions: Object.keys(regions), models: reports, elapsedMs: Math.round(performance.now() - t0) };
  await run.write('report.json', `${JSON.stringify(json, null, 1)}\n`);
  const latest = await run.publish();
  images.dispose();
  for (const m of models) m.module.dispose();
  const names = Object.keys(regions);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;
  return [
    `DiG-IN spurious-vs-core on ${ds.n} world faces: where each model's decision channels (class 1 = ${f.label}) fire`,
    `  regions' share of the pixels: ${names.map((r) => `${r} ${pct(reports[0].report.area[r])}`).join(', ')}`,
    ...reports.map(({ model, report }) => [
      `${model}: decision-weighted activation mass ${names.map((r) => `${r} ${pct(report.weightedShare[r])}`).join(', ')}`,
      `  strongest 8 channels: ${report.rows.slice(0, 8).map((r) => `#${r.channel} ${signed(r.contribution)} → ${r.responds.split(' ')[0]}`).join(', ')}`,
    ].join('\n')),
    `channel maps (each face, then its 4 strongest channels; ${models.map((m) => m.folder).join(' then ')}): ${join(latest, 'channels.png')}`,
    `report: ${join(latest, 'report.json')}`,
  ].join('\n');
}
