// cflens digin uvce: DiG-IN's universal visual counterfactual explanations (src/diagnosis/uvce.ts) of a world
// classifier through a Stable Diffusion folder: faces the classifier does not assign to --class are captioned
// from the attribute reader, inverted, and changed where the caption's --word attends (default: the labelled
// attribute's word, e.g. 'neutral' for smiling) until the classifier does; p(class) before and after, what
// the reader reads after, and the change outside the mask.
import { join } from 'node:path';
import { initGpu } from '../gpu/index.js';
import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { fromArray } from '../ops/creation.js';
import { mul, square, sub } from '../ops/elementwise.js';
import { mean } from '../ops/reduce.js';
import { softmax } from '../ops/softmax.js';
import { narrow } from '../ops/shape.js';
import { encodePng, tileImages } from '../io/png.js';
import { StableDiffusionPipeline } from '../pipelines/stable-diffusion.js';
import { clipAttributeReader } from '../diagnosis/attribute-reader.js';
import { phraseOf, worldCaptioner } from '../diagnosis/lance-captions.js';
import { uvce } from '../diagnosis/uvce.js';
import { requireWorkingAdapter } from './doctor.js';
import { loadClip, loadTarget, modelFolder } from './diagnosis-setup.js';
import { worldFaces } from './diagnose-umo.js';
import { etaLog } from './progress.js';
import { startRun } from './run-dir.js';

export interface DiginUvceArgs {
  models: string; out: string; pipeline: string; f: string; cls: number; word?: string; faces: number;
  steps: number; guidance: number; iterations: number; innerSteps: number; cutouts: number; seed: number;
}

const SIZE = 32;

export async function diginUvceCommand(a: DiginUvceArgs): Promise<string> {
  const t0 = performance.now();
  const run = await startRun(a.out, 'digin-uvce');
  const ctx = await initGpu();
  await requireWorkingAdapter(ctx);
  const pipe = await StableDiffusionPipeline.fromPretrained(modelFolder(a.models, a.pipeline));
  pipe.freeze();
  const t = await loadTarget(a.models, a.f);
  if (!t.label || t.target.kind !== 'classes') {
    throw new Error(`cflens digin uvce: --f ${t.folder} must be a world classifier (cflens_label in its config.json)`);
  }
  const label = t.label.split('=')[0];
  const clip = await loadClip(a.models);
  const reader = clipAttributeReader(clip.clip);
  const classify = (x: Tensor) => t.target.forward(x);
  const pOf = async (x: Tensor) => (await noGrad(() => tidy(() => narrow(softmax(classify(x), 1), 1, a.cls, 1))).toArray())[0];
  // Faces the classifier does not put in --class (the counterfactual has somewhere to go).
  const ds = worldFaces(t, 4 * a.faces, a.seed, 'pm1');
  const all = fromArray(ds.all().images, [ds.n, 3, SIZE, SIZE]);
  const p0 = Array.from(await noGrad(() => tidy(() => narrow(softmax(classify(all), 1), 1, a.cls, 1))).toArray());
  const picked = p0.flatMap((p, i) => (p < 0.5 ? [i] : [])).slice(0, a.faces);
  if (!picked.length) throw new Error(`cflens digin uvce: none of ${ds.n} world faces is outside class ${a.cls} of ${t.folder}: nothing to explain`);
  const log = etaLog((m) => console.log(`  ${m}`));
  const rows = [];
  const frames: Float32Array[] = [];
  for (const [k, i] of picked.entries()) {
    const image = noGrad(() => narrow(all, 0, i, 1));
    const [reading] = await reader.read(image);
    const caption = worldCaptioner.caption(reading);
    const word = a.word ?? phraseOf(label, reading[label] as string | boolean).split(' ').pop()!;
    const r = await uvce({
      pipe, classifier: classify, targetClass: a.cls, image, caption, word, steps: a.steps, guidance: a.guidance, innerSteps: a.innerSteps,
      iterations: a.iterations, cutouts: a.cutouts, seed: a.seed + k,
      onIteration: (it, l) => log(`face ${k + 1}/${picked.length}: UVCE ${it + 1}/${a.iterations}, −log p ${l.toFixed(3)}`),
    });
    const [after] = await reader.read(r.image);
    const outside = await noGrad(() => tidy(() => mean(square(mul(sub(r.image, image), sub(1, r.pixelMask)))))).item();
    const inside = await noGrad(() => tidy(() => mean(square(mul(sub(r.image, image), r.pixelMask))))).item();
    rows.push({
      face: i, caption, word, pBefore: p0[i], pAfter: await pOf(r.image), changed: Object.keys(reading).filter((x) => reading[x] !== after[x]),
      maskShare: await noGrad(() => mean(r.pixelMask)).item(), outsideMse: outside, insideMse: inside, losses: r.losses,
    });
    const m = Float32Array.from(await r.pixelMask.toArray()).map((v) => 2 * v - 1);
    frames.push(Float32Array.from(await image.toArray()), Float32Array.from([...m, ...m, ...m]), Float32Array.from(await r.image.toArray()));
    for (const x of [image, r.image, r.mask, r.pixelMask]) x.dispose();
  }
  const grid = tileImages(frames, SIZE, { cols: 3, scale: 3, range: 'pm1' });
  await run.write('pairs.png', encodePng(grid.rgb, grid.width, grid.height));
  const json = { target: t.folder, pipeline: a.pipeline, settings: a, faces: rows, elapsedMs: Math.round(performance.now() - t0) };
  await run.write('report.json', `${JSON.stringify(json, null, 1)}\n`);
  const latest = await run.publish();
  all.dispose();
  t.module.dispose();
  clip.clip.dispose();
  pipe.dispose();
  const reached = rows.filter((r) => r.pAfter >= 0.5).length;
  return [
    `${t.folder}: DiG-IN UVCEs towards class ${a.cls} through ${a.pipeline}, ${rows.length} faces; ${reached} reach it`,
    ...rows.map((r) => `  face ${r.face} ('${r.word}'): p ${r.pBefore.toFixed(3)} → ${r.pAfter.toFixed(3)}, ` +
      `mask ${(100 * r.maskShare).toFixed(0)}% of the image, ` +
      `MSE inside ${r.insideMse.toFixed(4)} / outside ${r.outsideMse.toFixed(4)}; the reader reads changed: ${r.changed.join(', ') || 'nothing'}`),
    `pairs (face, mask, counterfactual): ${join(latest, 'pairs.png')}; report: ${join(latest, 'report.json')}`,
  ].join('\n');
}
