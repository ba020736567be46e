// models/defaults/README.md, written from the manifest and the training records so that the tables
// can never disagree with the shipped files.
import type { Metrics } from './evaluate.js';

export interface TrainingRecord {
  task: string; description: string; seed: number;
  /** Steps over all runs (a continued run adds its own to `previous.steps`). */
  steps: number; batchSize: number;
  /** Training time over all runs. */
  trainingMs: number; hardware: string;
  lr?: number; ema?: number;
  /** This run's loss curve: [step, mean loss of the last 25 steps]. */
  losses?: number[][];
  /** The record of the run this one continued (train-defaults --continue). */
  previous?: TrainingRecord;
}

const pct = (x: unknown) => (typeof x === 'number' ? `${(100 * x).toFixed(1)}%` : '–');
const mins = (ms: number) => `${(ms / 60000).toFixed(1)} min`;

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function defaultsReadme(manifest: { models: Record<string, Metrics> }, records: Record<string, TrainingRecord>): string {
  const m = manifest.models;
  const get = (name: string) => (m[name] ?? {}) as Record<string, unknown>;
  const out: string[] = [
    '# Default models',
    '',
    'Trained by cflens on its synthetic world (`src/world`) with its own autograd: `npm run train:defaults`',
    '(resumable; seeds in `src/train/tasks.ts`). Each folder: `config.json`, `model.safetensors` (f16),',
    '`training.json` (steps, loss curve, time, hardware). Figures below are from `manifest.json`, computed on',
    'held-out faces from the shipped f16 files (`npm run train:defaults -- --eval-only` recomputes them; the',
    'tests re-check each model on a fixed batch). Generated file: do not edit.',
    '',
    '## Training',
    '',
    'Times are wall-clock on the software adapter, with up to three trainings sharing the same two cores.',
    '',
    table(['model', 'what', 'steps × batch', 'time', 'hardware'], Object.values(records).map((r) => [
      r.task, r.description, `${r.previous ? `${r.previous.steps} + ${r.steps - r.previous.steps} (continued)` : r.steps} × ${r.batchSize}`,
      mins(r.trainingMs), r.hardware,
    ])),
    '',
    '## Classifiers with planted biases',
    '',
    'Trained on 10 000 / 10 000 / 100 / 100 faces over (label, spurious) cells; evaluated on 400 faces',
    'balanced over the four cells. Bias-conflicting cells are (label 1, spurious 0) and (0, 1).',
    '',
    table(['model', 'held-out', 'aligned cells', 'bias-conflicting cells', 'cell 1,1', 'cell 0,0', 'cell 1,0', 'cell 0,1'],
      ['smile_blond', 'glasses_bluebg', 'smile_control'].map((n) => {
        const r = get(n);
        const c = (r.cellAccuracy ?? {}) as Record<string, number>;
        return [n, pct(r.heldOutAccuracy), pct(r.alignedAccuracy), pct(r.conflictingAccuracy), pct(c['1,1']), pct(c['0,0']), pct(c['1,0']), pct(c['0,1'])];
      })),
    '',
    '## Other targets',
    '',
    table(['model', 'figure'], [
      ['hair_color (5 classes)', `accuracy ${pct(get('hair_color').heldOutAccuracy)}`],
      ['keypoints (5 points)', `mean error ${Number(get('keypoints').meanErrorPixels ?? NaN).toFixed(2)} px at 32×32`],
      ['segmenter (7 classes)', `pixel accuracy ${pct(get('segmenter').pixelAccuracy)}, mean IoU ${pct(get('segmenter').meanIoU)}`],
    ]),
    '',
  ];
  const clip = (get('clip').zeroShotAccuracy ?? {}) as Record<string, number>;
  const reader = (get('clip').readerAccuracy ?? {}) as Record<string, number>;
  out.push('## The attribute reader and CLIP zero-shot accuracy (400 held-out faces)', '');
  out.push('The attribute reader (every report names what changed with it) is the CLIP image tower: the');
  out.push('projection outputs its first training phase trained as attribute sigmoids (`cflens_attribute_columns`');
  out.push('in clip/config.json). The text tower was fitted to those features and can only match what they carry.', '');
  out.push(table(
    ['attribute', 'attribute reader (CLIP image tower)', 'CLIP zero-shot ("a face with {value}")'],
    Object.keys(reader).map((a) => [a, pct(reader[a]), pct(clip[a])]),
  ));
  const ddpm = get('ddpm');
  const fs = (ddpm.sampleFrequencies ?? {}) as Record<string, number>;
  const fr = (ddpm.realFrequencies ?? {}) as Record<string, number>;
  out.push('', '## DDPM samples', '');
  const det = (ddpm.deterministic ?? {}) as { ddimSteps?: number; sampleFrequencies?: Record<string, number>; maxFrequencyGap?: number };
  const fd = det.sampleFrequencies ?? {};
  out.push(
    `${ddpm.samples ?? '?'} ancestral samples (DDIM ${ddpm.ddimSteps ?? '?'} steps, η = ${ddpm.eta ?? 0}) ` +
    'and as many real faces, both read by the attribute reader;',
  );
  out.push(
    `largest frequency gap ${pct(ddpm.maxFrequencyGap)} (deterministic DDIM, ${det.ddimSteps ?? '?'} steps, η = 0: ${pct(det.maxFrequencyGap)}). ` +
    'Samples: `ddpm/samples.png`.',
    '',
  );
  out.push(table(
    ['attribute value', 'in samples (η = 1)', 'in samples (η = 0)', 'in real faces'],
    Object.keys(fs).map((k) => [k, pct(fs[k]), pct(fd[k]), pct(fr[k])]),
  ));
  out.push(...worldSdSection(get('world_sd_vae'), get('world_sd_unet')));
  return `${out.join('\n')}\n`;
}

/** world-sd: the VAE's reconstructions and the UNet's text-to-image accuracy (nothing while it is not shipped). */
function worldSdSection(vae: Record<string, unknown>, unet: Record<string, unknown>): string[] {
  if (!Object.keys(vae).length && !Object.keys(unet).length) return [];
  const kept = (vae.attributePreservation ?? {}) as Record<string, number>;
  const t2i = (unet.textToImageAccuracy ?? {}) as Record<string, number>;
  const psnr = typeof vae.psnr === 'number' ? `${vae.psnr.toFixed(2)} dB` : '–';
  return [
    '', '## world-sd (latent diffusion, `world_sd/`: a diffusers StableDiffusionPipeline folder)', '',
    `The VAE (32×32×3 ↔ 16×16×4, scaling_factor ${String(vae.scalingFactor ?? '–')}) reconstructs ${String(vae.faces ?? '?')} held-out faces ` +
    `at a mean PSNR of ${psnr}`,
    '(`world_sd/reconstructions.png`: originals beside reconstructions). Text-to-image accuracy: for each attribute value,',
    `${String(unet.samplesPerPrompt ?? '?')} samples of "a face with {value}" (DDIM ${String(unet.ddimSteps ?? '?')} steps, ` +
    `guidance ${String(unet.guidanceScale ?? '?')}) and the share the attribute reader reads as prompted,`,
    "averaged over the attribute's values (`world_sd/samples.png`: each prompt's first sample, in order).",
    '',
    table(
      ['attribute', 'read the same after the VAE round trip', 'text-to-image accuracy'],
      [...new Set([...Object.keys(kept), ...Object.keys(t2i)])].map((a) => [a, pct(kept[a]), pct(t2i[a])]),
    ),
  ];
}
