// cflens harden: counterfactual training of a world classifier — accuracy, bias-conflicting accuracy and
// flip resistance (FR-25 / FR-100) before and after fine-tuning on its own training distribution mixed
// evenly with counterfactuals made against it; the hardened model is written beside the report.
import { join } from 'node:path';
import { initGpu } from '../gpu/index.js';
import { ensureWritableDir } from '../io/node/atomic-write.js';
import type { Tensor } from '../autograd/tensor.js';
import { fromArray } from '../ops/creation.js';
import { add, mul } from '../ops/elementwise.js';
import { narrow } from '../ops/shape.js';
import { weightsBytes } from '../train/checkpoint.js';
import { BIASED_TABLE } from '../train/tasks.js';
import { WorldDataset } from '../world/dataset.js';
import { hashSeed } from '../world/rng.js';
import { accuracy, flipResistance, harden } from '../diagnosis/harden.js';
import { requireWorkingAdapter } from './doctor.js';
import { loadGenerator, loadTarget } from './diagnosis-setup.js';
import { etaLog } from './progress.js';
import { startRun } from './run-dir.js';

export interface HardenArgs {
  target: string; models: string; out: string; generator: string; method: 'umo' | 'zoom';
  steps: number; batch: number; faces: number; attack: number; seed: number; lr: number; invertSteps: number;
}

const SIZE = 32;

interface Figures { accuracy: number; alignedAccuracy: number; conflictingAccuracy: number; fr: Record<number, number> }

export async function hardenCommand(a: HardenArgs): Promise<string> {
  const t0 = performance.now();
  const run = await startRun(a.out, `harden-${a.target}`);
  const ctx = await initGpu();
  await requireWorkingAdapter(ctx);
  const t = await loadTarget(a.models, a.target);
  if (!t.label || !t.spurious || t.target.kind !== 'classes') {
    throw new Error(`cflens harden: ${t.folder} is not a world classifier with a planted shortcut (cflens_label and cflens_spurious in its config.json)`);
  }
  const gen = await loadGenerator(a.models, a.generator, { steps: 10, invertSteps: a.invertSteps });
  const model = t.module as typeof t.module & { forward(x: Tensor): Tensor };
  const forward = (x: Tensor) => model.forward(mul(add(x, 1), 0.5));
  const log = etaLog((m) => console.log(`  ${m}`));
  // Held-out faces balanced over label × shortcut: aligned cells (1,1), (0,0), bias-conflicting (1,0), (0,1).
  const held = new WorldDataset({ label: t.label, spurious: t.spurious, n: a.faces, balanced: true, seed: hashSeed(a.seed, 0x4e1d), size: SIZE, range: 'pm1' });
  const heldImages = fromArray(held.all().images, [held.n, 3, SIZE, SIZE]);
  const cells = (keys: string[]) => keys.flatMap((k) => held.cell(k));
  const measure = async (): Promise<Figures> => {
    const sub = async (ids: number[]) => {
      if (!ids.length) return NaN;
      const x = fromArray(held.batch(ids).images, [ids.length, 3, SIZE, SIZE]);
      const v = await accuracy(forward, x, ids.map((i) => held.labels[i]));
      x.dispose();
      return v;
    };
    const attackOn = narrow(heldImages, 0, 0, Math.min(16, held.n));
    const fr = await flipResistance(forward, gen.generator, attackOn, [25, a.attack].filter((n, i, l) => l.indexOf(n) === i && n <= a.attack));
    attackOn.dispose();
    return {
      accuracy: await accuracy(forward, heldImages, [...held.labels]), alignedAccuracy: await sub(cells(['1,1', '0,0'])),
      conflictingAccuracy: await sub(cells(['1,0', '0,1'])), fr: fr.fr,
    };
  };
  log('measuring the model before counterfactual training');
  const before = await measure();
  const train = new WorldDataset({ label: t.label, spurious: t.spurious, table: BIASED_TABLE, seed: hashSeed(a.seed, 0x7a1), size: SIZE, range: 'pm1' });
  const half = Math.max(1, Math.floor(a.batch / 2));
  const losses = await harden({
    model, forward, generator: gen.generator, steps: a.steps, lr: a.lr, method: a.method,
    regular: (step) => {
      const ids = Array.from({ length: half }, (_, i) => (step * half + i) % train.n);
      const b = train.batch(ids);
      return { images: fromArray(b.images, [ids.length, 3, SIZE, SIZE]), labels: Array.from(b.labels) };
    },
    onStep: (s, l) => log(`counterfactual training ${s + 1}/${a.steps}: loss ${l.toFixed(4)}`),
  });
  log('measuring the hardened model');
  const after = await measure();
  const name = `${t.folder.split('/').filter(Boolean).pop()}-hardened`;
  await ensureWritableDir(join(run.path, name));
  await run.write(join(name, 'config.json'), `${JSON.stringify({ ...t.config, cflens_hardened: { method: a.method, steps: a.steps } }, null, 1)}\n`);
  await run.write(join(name, 'model.safetensors'), await weightsBytes(model, 'f32', { format: 'pt' }));
  const json = { target: t.folder, generator: gen.name, settings: a, before, after, losses, elapsedMs: Math.round(performance.now() - t0) };
  await run.write('report.json', `${JSON.stringify(json, null, 1)}\n`);
  const latest = await run.publish();
  heldImages.dispose();
  model.dispose();
  gen.dispose();
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const row = (label: string, f: Figures) => `  ${label.padEnd(7)} accuracy ${pct(f.accuracy)}, aligned ${pct(f.alignedAccuracy)}, ` +
    `bias-conflicting ${pct(f.conflictingAccuracy)}, ${Object.entries(f.fr).map(([n, v]) => `FR-${n} ${pct(v)}`).join(', ')}`;
  return [
    `${t.folder}: ${a.steps} steps of counterfactual training (${a.method}) through ${gen.name}`,
    row('before', before),
    row('after', after),
    `hardened model: ${join(latest, name)}; report: ${join(latest, 'report.json')}`,
  ].join('\n');
}
