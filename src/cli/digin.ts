// cflens digin disagree|neuron: DiG-IN's guided-diffusion investigations of classifiers through a Stable
// Diffusion pipeline folder (world-sd, or a converted SD 1.x folder), written as a report folder.
//   disagree  images that classifier f assigns to --class and g does not (default world pair:
//             smile_blond vs smile_control — the result should show the shortcut, blond hair);
//   neuron    a visualisation of channel --neuron of the target's last feature map.
import { join } from 'node:path';
import { initGpu } from '../gpu/index.js';
import type { Tensor } from '../autograd/tensor.js';
import { add, mul } from '../ops/elementwise.js';
import { encodePng, tileImages } from '../io/png.js';
import { readItems } from '../diagnosis/readback.js';
import { clipAttributeReader } from '../diagnosis/attribute-reader.js';
import { digin, disagreementObjective, neuronObjective } from '../diagnosis/digin.js';
import { StableDiffusionPipeline } from '../pipelines/stable-diffusion.js';
import { SmallConvNet } from '../models/index.js';
import { requireWorkingAdapter } from './doctor.js';
import { loadClip, loadTarget, modelFolder } from './diagnosis-setup.js';
import { etaLog } from './progress.js';
import { startRun } from './run-dir.js';

export interface DiginArgs {
  mode: 'disagree' | 'neuron';
  models: string; out: string; pipeline: string;
  f: string; g: string; cls: number; neuron: number;
  prompt: string; steps: number; guidance: number; iterations: number; cutouts: number; batch: number; seed: number;
}

export async function diginCommand(a: DiginArgs): Promise<string> {
  const t0 = performance.now();
  const run = await startRun(a.out, `digin-${a.mode}`);
  const ctx = await initGpu();
  await requireWorkingAdapter(ctx);
  const pipe = await StableDiffusionPipeline.fromPretrained(modelFolder(a.models, a.pipeline));
  pipe.freeze();
  const f = await loadTarget(a.models, a.f);
  const from01 = (m: { forward(x: Tensor): Tensor }) => (x: Tensor) => m.forward(mul(add(x, 1), 0.5));
  let objective: (x: Tensor) => Tensor;
  let what: string;
  let g: Awaited<ReturnType<typeof loadTarget>> | null = null;
  if (a.mode === 'disagree') {
    g = await loadTarget(a.models, a.g);
    objective = disagreementObjective(from01(f.module as never), from01(g.module as never), a.cls);
    what = `p_f(${a.cls}) − p_g(${a.cls}) with f = ${f.folder}, g = ${g.folder}`;
  } else {
    if (!(f.module instanceof SmallConvNet)) throw new Error(`cflens digin neuron: ${f.folder} has no features() to read a channel of`);
    const net = f.module;
    objective = neuronObjective((x) => net.features(mul(add(x, 1), 0.5)), a.neuron);
    what = `mean activation of channel ${a.neuron} of ${f.folder}'s last feature map`;
  }
  const log = etaLog((m) => console.log(`  ${m}`));
  const r = await digin({
    pipe, objective, prompt: a.prompt, steps: a.steps, guidance: a.guidance, iterations: a.iterations, cutouts: a.cutouts, batch: a.batch, seed: a.seed,
    onIteration: (i, l) => log(`digin ${i + 1}/${a.iterations}: loss ${l.toFixed(4)}`),
  });
  // What the images show, by the world's attribute reader where the world CLIP is there.
  const clip = await loadClip(a.models).catch(() => null);
  const readings = clip ? await clipAttributeReader(clip.clip).read(r.images) : null;
  const frames = await readItems(r.images);
  const size = r.images.shape[2];
  const t = tileImages(frames, size, { cols: Math.min(8, frames.length), scale: Math.max(1, Math.round(128 / size)), range: 'pm1' });
  await run.write('images.png', encodePng(t.rgb, t.width, t.height));
  const json = { mode: a.mode, objective: what, settings: a, losses: r.losses, readings, elapsedMs: Math.round(performance.now() - t0) };
  await run.write('report.json', `${JSON.stringify(json, null, 1)}\n`);
  const latest = await run.publish();
  for (const x of [r.images, r.zT, ...r.cond, ...r.uncond]) x.dispose();
  f.module.dispose();
  g?.module.dispose();
  clip?.clip.dispose();
  pipe.dispose();
  return [
    `DiG-IN ${a.mode}: ${what}, ${a.iterations} steps through ${a.pipeline}`,
    `objective ${r.losses[0]?.toFixed(4)} → ${r.losses[r.losses.length - 1]?.toFixed(4)} (lower is better)`,
    ...(readings ? [`the attribute reader reads: ${readings.map((x) => JSON.stringify(x)).join('; ')}`] : []),
    `images: ${join(latest, 'images.png')}; report: ${join(latest, 'report.json')}`,
  ].join('\n');
}
