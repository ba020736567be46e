// cflens diagnose --method zoom: one h-space direction per attribute phrase (learned with the CLIP
// directional loss and cached on disk per generator and phrase), ZOOM's single-attribute sensitivity
// histogram, flip rates as the most sensitive attributes are added, the oracle comparison on the world.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initGpu } from '../gpu/index.js';
import { keep } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { fromArray } from '../ops/creation.js';
import { narrow } from '../ops/shape.js';
import { bytesSource } from '../io/byte-source.js';
import { SafetensorsFile } from '../io/safetensors.js';
import { writeSafetensors } from '../io/safetensors-write.js';
import { ensureWritableDir, writeFileAtomic } from '../io/node/atomic-write.js';
import { bankPhrases, type AttributeBank, type BankPhrase } from '../diagnosis/bank.js';
import { bankDirections } from '../diagnosis/umo-analysis.js';
import { learnDirection } from '../diagnosis/zoom-directions.js';
import { zoomCounterfactuals, zoomFlipRates, zoomSensitivity, type ZoomDirection, type ZoomOptions, type ZoomSensitivity } from '../diagnosis/zoom.js';
import { zoomReport } from '../report/method-report.js';
import { requireWorkingAdapter } from './doctor.js';
import { labelPrompts, loadBank, loadClip, loadGenerator, loadTarget, type LoadedClip, type LoadedGenerator } from './diagnosis-setup.js';
import { oracleFor, worldFaces } from './diagnose-umo.js';
import { etaLog, stopOnInterrupt } from './progress.js';
import { findRun, startRun } from './run-dir.js';
import type { DiagnoseArgs } from './diagnose.js';

const SIZE = 32;
const DIRECTION_FACES = 4;

/**
 * The phrases ZOOM edits along: every phrase of the bank's groups except the absent form of a two-phrase
 * (binary) group ("no glasses", "neutral"), whose direction is the present form's, negated by its weight.
 */
export function zoomPhrases(bank: AttributeBank): BankPhrase[] {
  const groups = new Map<string, string[]>();
  for (const p of bankPhrases(bank)) if (p.group) groups.set(p.group, [...(groups.get(p.group) ?? []), p.phrase]);
  return bankPhrases(bank).filter((p) => p.group && !(groups.get(p.group)!.length === 2 && groups.get(p.group)![0] === p.phrase));
}

/** Learned directions, one per phrase, read from the cache or learned and stored there. */
async function directions(
  gen: LoadedGenerator, clip: LoadedClip, bank: AttributeBank, phrases: BankPhrase[], latents: Tensor, steps: number, cacheDir: string,
  log: (m: string) => void,
): Promise<ZoomDirection[]> {
  const all = bankPhrases(bank);
  const dts = await bankDirections(clip.clip, clip.tokenize, bank);
  const key = createHash('sha256').update(`${gen.name}|${bank.templates.join('|')}|${DIRECTION_FACES}|${steps}`).digest('hex').slice(0, 16);
  const dir = join(cacheDir, key);
  await ensureWritableDir(dir);
  const out: ZoomDirection[] = [];
  for (const [i, p] of phrases.entries()) {
    const file = join(dir, `${p.phrase.replace(/[^\w-]+/g, '_')}.safetensors`);
    const cached = await readFile(file).catch(() => null);
    if (cached) {
      const st = await SafetensorsFile.open(bytesSource(file, new Uint8Array(cached)));
      const t = await st.read('delta');
      out.push({ attribute: p.phrase, delta: keep(fromArray(t.data as Float32Array, t.shape)) });
      continue;
    }
    const r = await learnDirection({
      generator: gen.generator, clip: clip.clip, latents, textDirection: dts[all.findIndex((q) => q.phrase === p.phrase)],
      steps, lr: 0.1, seed: i,
    });
    log(`direction ${i + 1}/${phrases.length} '${p.phrase}': CLIP directional cosine ${r.cosineBefore.toFixed(2)} → ${r.cosineAfter.toFixed(2)}`);
    const data = Float32Array.from(await r.delta.toArray());
    await writeFileAtomic(file, writeSafetensors({ delta: { dtype: 'F32', shape: r.delta.shape, data } }));
    out.push({ attribute: p.phrase, delta: r.delta });
  }
  return out;
}

/** What must match for --resume to reuse an earlier run's histogram rows. */
function zoomSettings(a: DiagnoseArgs): Record<string, unknown> {
  return {
    target: a.target, models: a.models, generator: a.generator, faces: a.faces, steps: a.iterations, batch: a.batch, seed: a.seed,
    ddimSteps: a.steps, invertSteps: a.invertSteps, bank: a.bank ?? null, attributes: a.attributes ?? null, directionSteps: a.directionSteps ?? 8,
  };
}

interface ZoomState { settings: Record<string, unknown>; rows: readonly ZoomSensitivity[]; complete: boolean }

export async function diagnoseZoomCommand(a: DiagnoseArgs): Promise<string> {
  const t0 = performance.now();
  const settings = zoomSettings(a);
  // --resume: the newest ZOOM run of this target with the same settings whose histogram is unfinished.
  const resumed = a.resume
    ? await findRun(a.out, `zoom-${a.target}`, 'zoom-state.json', (body) => {
      const st = JSON.parse(body) as ZoomState;
      return !st.complete && JSON.stringify(st.settings) === JSON.stringify(settings);
    })
    : null;
  if (a.resume) {
    console.log(resumed ? `  resuming ${resumed.path}` : `  --resume: no unfinished ZOOM run of ${a.target} in ${a.out} with these settings; a new one`);
  }
  const done = resumed ? (JSON.parse(await readFile(join(resumed.path, 'zoom-state.json'), 'utf8')) as ZoomState).rows : [];
  const run = resumed ?? await startRun(a.out, `zoom-${a.target}`);
  const saveState = (rows: readonly ZoomSensitivity[], complete: boolean) =>
    run.write('zoom-state.json', `${JSON.stringify({ settings, rows, complete } satisfies ZoomState)}\n`);
  const ctx = await initGpu();
  await requireWorkingAdapter(ctx);
  const t = await loadTarget(a.models, a.target);
  const gen = await loadGenerator(a.models, a.generator, { steps: a.steps, invertSteps: a.invertSteps });
  const clip = await loadClip(a.models);
  const bank = await loadBank(a);
  const phrases = zoomPhrases(bank).length ? zoomPhrases(bank) : bankPhrases(bank);
  const prompts = labelPrompts(clip, t.label);
  const log = etaLog((m) => console.log(`  ${m}`));
  const ds = worldFaces(t, a.faces, a.seed, 'pm1');
  const images = fromArray(ds.all().images, [ds.n, 3, SIZE, SIZE]);
  const first = narrow(images, 0, 0, Math.min(DIRECTION_FACES, ds.n));
  const learnOn = gen.generator.invert(first);
  first.dispose();
  const dirs = await directions(gen, clip, bank, phrases, learnOn, a.directionSteps ?? 8, a.directionCache ?? join('.cache', 'zoom-directions'), log);
  learnOn.dispose();
  const base: ZoomOptions = {
    generator: gen.generator, target: t.target, images, directions: dirs, steps: a.iterations, batchSize: a.batch,
    clip: prompts ? { model: clip.clip, prompts } : undefined, shouldStop: stopOnInterrupt(log),
  };
  if (done.length) log(`reusing ${done.length} attributes measured before: ${done.map((d) => d.attribute).join(', ')}`);
  const histogram = await zoomSensitivity(base, async (n, total, rows) => {
    await saveState(rows, false);
    log(`single-attribute counterfactuals ${n}/${total}`);
  }, done);
  await saveState(histogram, histogram.length === dirs.length);
  const order = histogram.slice(0, Math.min(3, histogram.length)).map((h) => h.attribute);
  const flipRates = await zoomFlipRates(base, order);
  const top = await zoomCounterfactuals({ ...base, keepImages: true }, [dirs.findIndex((d) => d.attribute === order[0])]);
  const scores: Record<string, number> = {};
  for (const h of histogram) {
    const group = phrases.find((p) => p.phrase === h.attribute)?.group ?? h.attribute;
    scores[group] = Math.max(scores[group] ?? 0, h.sensitivity);
  }
  const oracle = await oracleFor(t, a, scores);
  const config = { faces: a.faces, steps: a.iterations, batch: a.batch, seed: a.seed, ddimSteps: a.steps, invertSteps: a.invertSteps, bank: bank.name };
  const pairs = (top.images ?? []).slice(0, 8).map((p) => ({ attribute: order[0], ...p }));
  const files = zoomReport({ histogram, flipRates, pairs, scores }, {
    method: 'zoom', target: t.folder, generator: gen.name, config, elapsedMs: performance.now() - t0, size: SIZE,
  }, oracle);
  for (const [name, body] of Object.entries(files)) await run.write(name, body);
  const latest = await run.publish();
  for (const d of dirs) d.delta.dispose();
  images.dispose();
  prompts?.dispose();
  for (const m of [t.module, clip.clip]) m.dispose();
  gen.dispose();
  return [
    `${t.folder}: ZOOM over ${dirs.length} attribute directions through ${gen.name}, ${ds.n} faces`,
    'sensitivity histogram (single-attribute counterfactuals):',
    histogram.slice(0, 5).map((h) => `  ${h.attribute.padEnd(20)} ${(100 * h.share).toFixed(1)}%  flips ${(100 * h.flipRate).toFixed(0)}%`).join('\n'),
    `flip rate as attributes are added: ${flipRates.map((r) => `${r.attributes.length}: ${(100 * r.flipRate).toFixed(0)}%`).join(', ')}`,
    ...(oracle ? [`agreement with the exact oracle: Spearman ${oracle.spearman.toFixed(2)}` +
      `${oracle.planted ? `; planted '${oracle.planted}' ranked ${oracle.plantedRank}` : ''}`] : []),
    `report: ${join(latest, 'report.html')} (+ report.json, pairs.png; this run: ${run.path})`,
  ].join('\n');
}
