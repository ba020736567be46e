// cflens diagnose: the world diagnosis of one default target model, written as a report folder.
import { readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/node/atomic-write.js';
import { initGpu, precompile } from '../gpu/index.js';
import { CLIPModel, SmallConvNet, UNet2DModel } from '../models/index.js';
import { DDIMScheduler } from '../schedulers/index.js';
import { readConfig } from '../models/pretrained.js';
import { fsDir } from '../models/node/fs-dir.js';
import { clipAttributeReader } from '../diagnosis/attribute-reader.js';
import { diagnoseWorld, diagnosisKernels, type WorldDiagnosisOptions } from '../diagnosis/world-diagnosis.js';
import { worldReport } from '../report/world-report.js';
import { requireWorkingAdapter } from './doctor.js';
import { compileProgress } from './progress.js';
import { startRun } from './run-dir.js';

export type DiagnoseMethod = 'umo' | 'zoom' | 'exact';

export interface DiagnoseArgs {
  method: DiagnoseMethod;
  target: string;
  models: string;
  out: string;
  faces: number;
  /** exact: generative counterfactuals to make; umo: edit directions (k). */
  counterfactuals: number;
  k: number;
  /** exact: latent search steps; umo: passes over the faces; zoom: weight steps. */
  iterations: number;
  batch: number;
  seed: number;
  /** umo / zoom: 'ddpm', 'world_sd' or a diffusers folder; its DDIM steps and how many are inverted. */
  generator: string;
  steps: number;
  invertSteps: number;
  bank?: string;
  attributes?: string;
  /** zoom: Adam steps of each attribute's direction (learned once per generator and phrase, then cached). */
  directionSteps?: number;
  /** umo: Adam step size of the edit directions; zoom: of the attribute weights (each method's default when absent). */
  lr?: number;
  /** umo: continue the newest run of this target and settings that has passes left (in its own folder). */
  resume?: boolean;
  /** umo: weight of 1 − SSIM in the edit loss (default UMO_GAMMA). */
  gamma?: number;
  /** zoom: where the learned directions are cached (default .cache/zoom-directions). */
  directionCache?: string;
}

/**
 * One run per seed (umo / zoom), then the agreement with the oracle per seed: the planted attribute's
 * rank and Spearman's ρ, and how many seeds rank the planted attribute first (validation-<method>.json).
 */
export async function diagnoseSeeds(a: DiagnoseArgs, seeds: readonly number[]): Promise<string> {
  const rows: { seed: number; plantedRank: number | null; spearman: number | null; report: string }[] = [];
  for (const seed of seeds) {
    console.log(`seed ${seed} (${rows.length + 1}/${seeds.length})`);
    console.log(await diagnose({ ...a, seed }));
    const latest = join(a.out, 'latest');
    const r = JSON.parse(await readFile(join(latest, 'report.json'), 'utf8')) as { oracle?: { plantedRank: number | null; spearman: number } | null };
    rows.push({ seed, plantedRank: r.oracle?.plantedRank ?? null, spearman: r.oracle?.spearman ?? null, report: await realpath(latest) });
  }
  const first = rows.filter((r) => r.plantedRank === 1).length;
  const file = join(a.out, `validation-${a.method}-${a.target.replace(/[^\w.-]+/g, '_')}.json`);
  await writeFileAtomic(file, `${JSON.stringify({ method: a.method, target: a.target, generator: a.generator, seeds: rows, plantedFirst: first }, null, 1)}\n`);
  return [
    ...rows.map((r) => `seed ${r.seed}: planted rank ${r.plantedRank ?? 'n/a'}, Spearman ${r.spearman === null ? 'n/a' : r.spearman.toFixed(2)}`),
    `planted attribute first in ${first} of ${rows.length} seeds; ${file}`,
  ].join('\n');
}

export async function diagnose(a: DiagnoseArgs): Promise<string> {
  if (a.method === 'umo') return (await import('./diagnose-umo.js')).diagnoseUmoCommand(a);
  if (a.method === 'zoom') return (await import('./diagnose-zoom.js')).diagnoseZoomCommand(a);
  return diagnoseExact(a);
}

/** The exact-oracle diagnosis with generative counterfactuals from the DDPM (the world's ground truth). */
async function diagnoseExact(a: DiagnoseArgs): Promise<string> {
  const t0 = performance.now();
  const run = await startRun(a.out, a.target);
  const dir = (name: string) => join(a.models, name);
  const config = await readConfig(fsDir(dir(a.target))).catch((e: Error) => {
    if (/is not valid JSON/.test(e.message)) throw e;
    throw new Error(
      `cflens diagnose: no model '${a.target}' in ${a.models} (expected ${dir(a.target)}/config.json); ` +
      'run `npm run train:defaults` or pick --target from the folders there',
    );
  });
  if (!config.cflens_label) throw new Error(`cflens diagnose: ${dir(a.target)} is not a binary world classifier (no cflens_label in its config.json)`);
  const ctx = await initGpu();
  await requireWorkingAdapter(ctx);
  const target = await SmallConvNet.fromPretrained(dir(a.target));
  const clip = await CLIPModel.fromPretrained(dir('clip'));
  const unet = await UNet2DModel.fromPretrained(dir('ddpm'));
  const scheduler = new DDIMScheduler(await readConfig(fsDir(dir('ddpm')), 'scheduler_config.json'));
  const opts: WorldDiagnosisOptions = {
    target, label: config.cflens_label as string, spurious: (config.cflens_spurious as string | null) ?? null,
    reader: clipAttributeReader(clip), unet, scheduler,
    faces: a.faces, counterfactuals: a.counterfactuals, iterations: a.iterations, seed: a.seed,
    onProgress: (m) => console.log(`  ${m}`),
    names: { target: dir(a.target), reader: dir('clip'), unet: dir('ddpm') },
  };
  // Kernels compile up front, with progress: on a new machine that is most of the first run.
  await precompile(ctx, () => diagnosisKernels(opts), { onProgress: compileProgress((m) => console.log(`  ${m}`)) });
  const d = await diagnoseWorld(opts);
  const files = worldReport(d, { target: a.target, size: 32, models: a.models, elapsedMs: performance.now() - t0 });
  for (const [name, body] of Object.entries(files)) await run.write(name, body);
  const latest = await run.publish();
  for (const m of [target, clip, unet]) m.dispose();
  const top = d.sensitivity.slice(0, 4)
    .map((s) => `  ${s.attribute.padEnd(20)} mean |Δp| ${s.meanAbsDelta.toFixed(3)}  flips ${(100 * s.flipRate).toFixed(0)}%`)
    .join('\n');
  const changed = Object.entries(d.changedCounts).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ×${v}`).join(', ') || 'none';
  return [
    `${a.target}: predicts '${d.label}'${d.spurious ? `, trained with '${d.spurious}' planted as a shortcut` : ''}`,
    `held-out accuracy ${(100 * d.heldOut.accuracy).toFixed(1)}%` +
      `${Number.isFinite(d.heldOut.conflictingAccuracy) ? `, bias-conflicting ${(100 * d.heldOut.conflictingAccuracy).toFixed(1)}%` : ''}`,
    'most sensitive attributes (exact counterfactuals):',
    top,
    `generative counterfactuals: ${d.flipped}/${d.counterfactuals.length} flipped; attributes they changed: ${changed}`,
    `report: ${join(latest, 'report.html')} (+ report.json, pairs.png; this run: ${run.path})`,
  ].join('\n');
}
