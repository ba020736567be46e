// cflens digin and cflens lance end to end on the fixture Stable Diffusion folder and the shipped world classifiers.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { diginCommand, type DiginArgs } from '../../src/cli/digin.js';
import { lanceCommand } from '../../src/cli/lance.js';
import { diginSpuriousCommand } from '../../src/cli/digin-spurious.js';
import { diginUvceCommand } from '../../src/cli/digin-uvce.js';
import { fixturePipelineFiles } from '../helpers/sd-fixture.js';
import { setupGpu } from '../helpers/gpu.js';

const root = new URL('../../', import.meta.url).pathname;
let pipeline: string;

beforeAll(async () => {
  await setupGpu();
  pipeline = join(mkdtempSync(join(tmpdir(), 'cflens-digin-')), 'sd');
  for (const [name, body] of Object.entries(await fixturePipelineFiles())) {
    mkdirSync(dirname(join(pipeline, name)), { recursive: true });
    writeFileSync(join(pipeline, name), body);
  }
});

const args = (o: Partial<DiginArgs>): DiginArgs => ({
  mode: 'disagree', models: join(root, 'models/defaults'), out: join(mkdtempSync(join(tmpdir(), 'cflens-digin-out-')), 'r'), pipeline,
  f: 'smile_blond', g: 'smile_control', cls: 1, neuron: 0, prompt: 'a face', steps: 2, guidance: 3, iterations: 2, cutouts: 2, batch: 1, seed: 0, ...o,
});

describe('cflens digin', () => {
  it('uvce: faces outside the class, captioned, inverted and changed where the word attends; p before and after, pairs.png', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cflens-digin-out-')), 'r');
    const text = await diginUvceCommand({
      models: join(root, 'models/defaults'), out, pipeline, f: 'smile_blond', cls: 1, faces: 1, steps: 2, guidance: 3, iterations: 2, innerSteps: 1,
      cutouts: 1, seed: 0,
    });
    expect(text).toMatch(/DiG-IN UVCEs towards class 1 .* 1 faces/);
    expect(text).toMatch(/\('neutral'\): p 0\.\d+ → \d\.\d+, mask \d+% of the image/);
    const r = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as { faces: { pBefore: number; losses: number[]; caption: string }[] };
    expect(r.faces[0].pBefore).toBeLessThan(0.5);
    expect(r.faces[0].losses).toHaveLength(2);
    expect(r.faces[0].caption).toMatch(/^a face with neutral, /);
  }, 120_000);

  it('spurious: the biased classifier\'s decision channels fire on the hair, the control\'s on the mouth; channels.png and report.json', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cflens-digin-out-')), 'r');
    const text = await diginSpuriousCommand({ models: join(root, 'models/defaults'), out, f: 'smile_blond', g: 'smile_control', faces: 16, seed: 0 });
    expect(text).toMatch(/smile_blond: decision-weighted activation mass core \(smiling\) [\d.]+%, spurious \(hair_color\) [\d.]+%/);
    const r = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as { models: { report: { weightedShare: Record<string, number> } }[] };
    const [biased, control] = r.models.map((m) => m.report.weightedShare);
    expect(biased['spurious (hair_color)']).toBeGreaterThan(control['spurious (hair_color)']);
    expect(control['core (smiling)']).toBeGreaterThan(biased['core (smiling)']);
    expect(readFileSync(join(out, 'latest', 'channels.png')).subarray(1, 4).toString()).toBe('PNG');
    await expect(diginSpuriousCommand({ models: join(root, 'models/defaults'), out, f: 'smile_control', g: '', faces: 8, seed: 0 }))
      .rejects.toThrow(/smile_control must be a world classifier with a planted shortcut/);
  }, 60_000);

  it('disagree writes the images, the objective per step and what the attribute reader reads (neuron: the same path)', async () => {
    for (const mode of ['disagree'] as const) {
      const a = args({ mode });
      const text = await diginCommand(a);
      expect(text).toMatch(/objective -?\d+\.\d+ → -?\d+\.\d+/);
      const r = JSON.parse(readFileSync(join(a.out, 'latest', 'report.json'), 'utf8')) as { losses: number[]; readings: unknown[] };
      expect(r.losses).toHaveLength(2);
      expect(r.readings).toHaveLength(1);
      expect(readFileSync(join(a.out, 'latest', 'images.png')).subarray(1, 4).toString()).toBe('PNG');
    }
  }, 120_000);

  it('lance: edits per face, Δp by edit type, the reconstruction control and LANCE-R', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cflens-lance-out-')), 'r');
    const text = await lanceCommand({
      target: 'smile_blond', models: join(root, 'models/defaults'), out, pipeline, faces: 1, steps: 2, innerSteps: 1, editsPerImage: 1, seed: 0, control: true,
      selfReplace: [0.4],
    });
    expect(text).toMatch(/LANCE through .*, 1 faces, \d+ of 1 edits kept/);
    expect(text).toMatch(/reconstruction control -?\d+\.\d%; LANCE-R Δacc@1/);
    const r = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as { lance: { edits: unknown[] }; control: { edits: unknown[] } };
    expect(r.lance.edits).toHaveLength(1);
    expect(r.control.edits).toHaveLength(1);
  }, 120_000);
});
