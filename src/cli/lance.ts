// cflens lance: a LANCE stress test of a world classifier through a Stable Diffusion pipeline folder —
// Δp per edit, per edit type and per cluster, Δacc@1, the reconstruction control, and with --control
// the random-word perturber (LANCE-R) — written as a report folder (JSON + PNG of the kept pairs).
import { join } from 'node:path';
import { initGpu } from '../gpu/index.js';
import type { Tensor } from '../autograd/tensor.js';
import { fromArray } from '../ops/creation.js';
import { add, mul } from '../ops/elementwise.js';
import { encodePng, tileImages } from '../io/png.js';
import { clipAttributeReader } from '../diagnosis/attribute-reader.js';
import { bankPhrases } from '../diagnosis/bank.js';
import { randomWordPerturber, worldCaptioner, worldPerturber } from '../diagnosis/lance-captions.js';
import { lanceDiagnosis, type LanceResult } from '../diagnosis/lance-diagnosis.js';
import { StableDiffusionPipeline } from '../pipelines/stable-diffusion.js';
import { attributeSpec, type AttributeName } from '../world/attributes.js';
import { Rng } from '../world/rng.js';
import { requireWorkingAdapter } from './doctor.js';
import { loadBank, loadClip, loadTarget, modelFolder } from './diagnosis-setup.js';
import { worldFaces } from './diagnose-umo.js';
import { etaLog, stopOnInterrupt } from './progress.js';
import { startRun } from './run-dir.js';

export interface LanceArgs {
  target: string; models: string; out: string; pipeline: string; faces: number; steps: number; innerSteps: number;
  editsPerImage: number; seed: number; control: boolean;
  /** Self-attention fractions tried per edit (default the paper's sweep 0.2, 0.4, 0.6, 0.8). */
  selfReplace?: number[];
}

const SIZE = 32;

export async function lanceCommand(a: LanceArgs): Promise<string> {
  const t0 = performance.now();
  const run = await startRun(a.out, `lance-${a.target}`);
  const ctx = await initGpu();
  await requireWorkingAdapter(ctx);
  const t = await loadTarget(a.models, a.target);
  if (t.target.kind !== 'classes' || !t.label) throw new Error(`cflens lance: ${t.folder} is not a world classifier (cflens_label in its config.json)`);
  const pipe = await StableDiffusionPipeline.fromPretrained(modelFolder(a.models, a.pipeline));
  pipe.freeze();
  const clip = await loadClip(a.models);
  const ds = worldFaces(t, a.faces, a.seed, 'pm1');
  const images = fromArray(ds.all().images, [ds.n, 3, SIZE, SIZE]);
  const labelAttribute = t.label.split('=')[0];
  const classWords = [...attributeSpec(labelAttribute as AttributeName).words];
  const classify = (x: Tensor) => (t.module as unknown as { forward(x: Tensor): Tensor }).forward(mul(add(x, 1), 0.5));
  const log = etaLog((m) => console.log(`  ${m}`));
  const stop = stopOnInterrupt(log);
  const common = {
    pipe, classify, images, labels: [...ds.labels], reader: clipAttributeReader(clip.clip), captioner: worldCaptioner, classWords, clip: clip.clip,
    tokenize: clip.tokenize, steps: a.steps, innerSteps: a.innerSteps, editsPerImage: a.editsPerImage, selfReplace: a.selfReplace, shouldStop: stop,
  };
  const lance = await lanceDiagnosis({
    ...common, perturber: worldPerturber(labelAttribute, new Rng(a.seed)), onEdit: (d, n) => log(`LANCE edits ${d}/${n}`),
  });
  let control: LanceResult | null = null;
  if (a.control) {
    const world = await loadBank({});
    const distractors = world.distractors.length ? world.distractors : bankPhrases(world).map((p) => p.phrase);
    control = await lanceDiagnosis({
      ...common, perturber: randomWordPerturber(distractors, new Rng(a.seed + 1), a.editsPerImage), onEdit: (d, n) => log(`LANCE-R edits ${d}/${n}`),
    });
  }
  const kept = lance.edits.filter((e) => e.kept && e.source && e.edit).slice(0, 24);
  const frames = kept.flatMap((e) => [e.source!, e.edit!]);
  const png = frames.length ? (() => {
    const g = tileImages(frames, SIZE, { cols: 2, scale: 3, range: 'pm1' });
    return encodePng(g.rgb, g.width, g.height);
  })() : encodePng(new Uint8Array(3), 1, 1);
  const strip = (r: LanceResult) => ({ ...r, edits: r.edits.map(({ source: _s, edit: _e, ...rest }) => rest) });
  const json = {
    target: t.folder, pipeline: a.pipeline, settings: a, lance: strip(lance), control: control && strip(control), elapsedMs: Math.round(performance.now() - t0),
  };
  await run.write('report.json', `${JSON.stringify(json, null, 1)}\n`);
  await run.write('pairs.png', png);
  const latest = await run.publish();
  images.dispose();
  t.module.dispose();
  clip.clip.dispose();
  pipe.dispose();
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const types = Object.entries(lance.byType).sort((x, y) => x[1].meanDeltaP - y[1].meanDeltaP)
    .map(([k, v]) => `  ${k.padEnd(11)} ${v.edits} edits, mean Δp ${v.meanDeltaP.toFixed(3)}`).join('\n');
  return [
    `${t.folder}: LANCE through ${a.pipeline}, ${ds.n} faces, ${lance.edits.filter((e) => e.kept).length} of ${lance.edits.length} edits kept`,
    'Δp(y_GT) by edit type (most harmful first):',
    types || '  (no edit passed the filters)',
    `Δacc@1 ${pct(lance.deltaAcc)}; reconstruction control ${pct(lance.reconstructionControl)}` +
      `${control ? `; LANCE-R Δacc@1 ${pct(control.deltaAcc)}` : ''}`,
    `report: ${join(latest, 'report.json')} (+ pairs.png; this run: ${run.path})`,
  ].join('\n');
}
