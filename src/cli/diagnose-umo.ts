// cflens diagnose --method umo: UMO's edit search on world faces, its edits named through the bank,
// compared with the exact oracle where the target is a world classifier; written as a report folder.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initGpu, precompile } from '../gpu/index.js';
import { noGrad } from '../autograd/grad-mode.js';
import { fromArray } from '../ops/creation.js';
import { compareWithOracle, type OracleComparison } from '../diagnosis/agreement.js';
import { diagnoseUmo, ensembleUmo } from '../diagnosis/umo-diagnosis.js';
import { UMO_GAMMA, UMO_LR, umoStepKernels } from '../diagnosis/umo.js';
import { readUmoState, umoStateBytes, type UmoState } from '../diagnosis/umo-state.js';
import { exactTargetSensitivity } from '../diagnosis/world-diagnosis.js';
import { umoReport } from '../report/method-report.js';
import { WorldDataset } from '../world/dataset.js';
import { hashSeed } from '../world/rng.js';
import { requireWorkingAdapter } from './doctor.js';
import { bankPhrases } from '../diagnosis/bank.js';
import { labelPrompts, loadBank, loadClip, loadGenerator, loadTarget, type LoadedTarget } from './diagnosis-setup.js';
import { compileProgress, etaLog, stopOnInterrupt } from './progress.js';
import { findRun, startRun, type RunDir } from './run-dir.js';
import type { DiagnoseArgs } from './diagnose.js';

const SIZE = 32;

/** World faces to explain: balanced over label × shortcut cells where the target has both (bias-conflicting ones included). */
export function worldFaces(t: LoadedTarget, n: number, seed: number, range: '01' | 'pm1'): WorldDataset {
  const biased = Boolean(t.label && t.spurious);
  return new WorldDataset({
    label: t.label ?? undefined, spurious: biased ? t.spurious ?? undefined : undefined, balanced: biased, n, seed: hashSeed(seed, 0xd1a9), size: SIZE, range,
  });
}

/**
 * The exact oracle of the target on the same faces (exactTargetSensitivity). Scores keyed
 * by a phrase of the world's bank ('blond hair', from --attributes) count for its attribute (hair_color).
 */
export async function oracleFor(t: LoadedTarget, a: DiagnoseArgs, phraseScores: Record<string, number>): Promise<OracleComparison> {
  const world = await loadBank({});
  const groupOf = new Map(bankPhrases(world).map((p) => [p.phrase, p.group]));
  const scores: Record<string, number> = {};
  for (const [k, v] of Object.entries(phraseScores)) {
    const key = groupOf.get(k) ?? k;
    scores[key] = Math.max(scores[key] ?? 0, v);
  }
  const ds = worldFaces(t, a.faces, a.seed, 'pm1');
  return compareWithOracle(scores, await exactTargetSensitivity(t.target, ds, a.seed, SIZE), t.spurious);
}

/** What must match for --resume to continue a run (everything but the number of passes). */
function searchSettings(a: DiagnoseArgs): Record<string, unknown> {
  return {
    target: a.target, models: a.models, generator: a.generator, faces: a.faces, k: a.k, batch: a.batch, seed: a.seed,
    lr: a.lr ?? UMO_LR, gamma: a.gamma ?? UMO_GAMMA, steps: a.steps, invertSteps: a.invertSteps, bank: a.bank ?? null, attributes: a.attributes ?? null,
  };
}

const stateFile = (g: number) => `umo-state-${g}.safetensors`;

async function readState(dir: string, g: number): Promise<UmoState | null> {
  const bytes = await readFile(join(dir, stateFile(g))).catch(() => null);
  return bytes ? readUmoState(new Uint8Array(bytes), join(dir, stateFile(g))) : null;
}

/**
 * The run a --resume continues: the newest UMO run of this target with the same settings whose search
 * has passes left (killed, stopped with Ctrl-C, or asked now for more --iterations). Null: none.
 */
async function resumableRun(a: DiagnoseArgs): Promise<RunDir | null> {
  const want = JSON.stringify(searchSettings(a));
  const generators = a.generator.split(',').filter((g) => g.trim()).length;
  return findRun(a.out, `umo-${a.target}`, 'settings.json', async (body, dir) => {
    if (JSON.stringify((JSON.parse(body) as { search?: unknown }).search) !== want) return false;
    for (let g = 0; g < generators; g++) if (((await readState(dir, g))?.pass ?? 0) < a.iterations) return true;
    return false;
  });
}

export async function diagnoseUmoCommand(a: DiagnoseArgs): Promise<string> {
  const t0 = performance.now();
  const resumed = a.resume ? await resumableRun(a) : null;
  if (a.resume) {
    console.log(resumed
      ? `  resuming ${resumed.path}`
      : `  --resume: no UMO run of ${a.target} in ${a.out} with these settings has passes left; starting a new one`);
  }
  const run = resumed ?? await startRun(a.out, `umo-${a.target}`);
  await run.write('settings.json', `${JSON.stringify({ search: searchSettings(a), iterations: a.iterations }, null, 1)}\n`);
  const ctx = await initGpu();
  await requireWorkingAdapter(ctx);
  const t = await loadTarget(a.models, a.target);
  const clip = await loadClip(a.models);
  const bank = await loadBank(a);
  const prompts = labelPrompts(clip, t.label);
  const ds = worldFaces(t, a.faces, a.seed, 'pm1');
  const images = fromArray(ds.all().images, [ds.n, 3, SIZE, SIZE]);
  const print = (m: string) => console.log(`  ${m}`);
  const stop = stopOnInterrupt(print);
  // Several generators (--generator ddpm,world_sd): one search each, the scores averaged (ensembleUmo).
  const names = a.generator.split(',').map((g) => g.trim()).filter(Boolean);
  const runs = [];
  const used: string[] = [];
  const out0 = noGrad(() => t.target.forward(images));
  const goal = await t.target.goal(out0);
  out0.dispose();
  for (const [g, name] of names.entries()) {
    const gen = await loadGenerator(a.models, name, { steps: a.steps, invertSteps: a.invertSteps });
    // The search's kernels compile up front, with progress: on a new machine that is a good part of the first run.
    await precompile(ctx, () => umoStepKernels({
      generator: gen.generator, target: t.target, images, batchSize: a.batch, clip: prompts ? { model: clip.clip, prompts } : undefined,
    }, goal), { onProgress: compileProgress(print) });
    const log = etaLog(print); // the ETA from the search's own pace (not the loading and compiling before it)
    const resume = resumed ? await readState(run.path, g) ?? undefined : undefined;
    if (resume) log(`${gen.name}: continuing after pass ${resume.pass}`);
    runs.push(await diagnoseUmo({
      generator: gen.generator, target: t.target, images, clip: clip.clip, tokenize: clip.tokenize, bank, labelPrompts: prompts ?? undefined,
      k: a.k, iterations: a.iterations, batchSize: a.batch, seed: a.seed, lr: a.lr, gamma: a.gamma, onProgress: log, shouldStop: stop,
      resume, onPass: (s) => run.write(stateFile(g), umoStateBytes(s)),
    }));
    used.push(gen.name);
    gen.dispose();
  }
  const d = ensembleUmo(runs);
  const gen = { name: used.join(' + ') };
  const oracle = await oracleFor(t, a, d.scores);
  const config = {
    faces: a.faces, k: a.k, iterations: a.iterations, batch: a.batch, seed: a.seed, lr: a.lr ?? UMO_LR, gamma: a.gamma ?? UMO_GAMMA,
    steps: a.steps, invertSteps: a.invertSteps, bank: bank.name,
  };
  const files = umoReport(d, { method: 'umo', target: t.folder, generator: gen.name, config, elapsedMs: performance.now() - t0, size: SIZE }, oracle);
  for (const [name, body] of Object.entries(files)) await run.write(name, body);
  const latest = await run.publish();
  images.dispose();
  prompts?.dispose();
  for (const m of [t.module, clip.clip]) m.dispose();
  const top = d.ranking.slice(0, 5).map((k) => `  ${k.padEnd(20)} ${d.scores[k].toFixed(3)}`).join('\n');
  return [
    `${t.folder}: UMO with ${d.edits.length} edits through ${gen.name} flips ${(100 * d.flipRate).toFixed(0)}% of ${ds.n} faces`,
    'attributes it is most sensitive to (effect × S_sim):',
    top,
    ...(oracle ? [`agreement with the exact oracle: Spearman ${oracle.spearman.toFixed(2)}` +
      `${oracle.planted ? `; planted '${oracle.planted}' ranked ${oracle.plantedRank}` : ''}`] : []),
    `report: ${join(latest, 'report.html')} (+ report.json, pairs.png; this run: ${run.path})`,
  ].join('\n');
}
