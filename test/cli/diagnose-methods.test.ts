// cflens diagnose --method umo / zoom end to end at the smallest sizes: a report folder with the
// method's table, the attribute scores and the oracle comparison for a world classifier.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { diagnose, type DiagnoseArgs } from '../../src/cli/diagnose.js';
import { setupGpu } from '../helpers/gpu.js';

const root = new URL('../../', import.meta.url).pathname;
const fresh = () => mkdtempSync(join(tmpdir(), 'cflens-method-'));
const args = (o: Partial<DiagnoseArgs>): DiagnoseArgs => ({
  method: 'umo', target: 'smile_blond', models: join(root, 'models/defaults'), out: join(fresh(), 'report'), faces: 2, counterfactuals: 1,
  iterations: 1, seed: 0, k: 2, batch: 2, generator: 'ddpm', steps: 5, invertSteps: 1, ...o,
});
const report = (out: string) => JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as Record<string, unknown>;

beforeAll(async () => {
  await setupGpu();
});

describe('cflens diagnose --method', () => {
  it('umo: edits named through the bank, attribute scores, the oracle comparison', async () => {
    const a = args({ method: 'umo' });
    const text = await diagnose(a);
    expect(text).toMatch(/UMO with \d edits through .*ddpm/);
    expect(text).toMatch(/agreement with the exact oracle: Spearman -?\d\.\d\d; planted 'hair_color' ranked \d+/);
    const r = report(a.out) as { edits: { top: unknown[] }[]; ranking: string[]; oracle: { oracle: unknown[] } };
    expect(r.edits.length).toBeGreaterThan(0);
    expect(r.edits[0].top).toHaveLength(8);
    expect(r.ranking).toContain('hair_color');
    expect(r.oracle.oracle).toHaveLength(13);
    const html = readFileSync(join(a.out, 'latest', 'report.html'), 'utf8');
    expect(html).toContain('S_sim');
    expect(html).toContain('data:image/png;base64,');
    // --resume with more passes continues this run in its folder from its stored state (pass 1 of 1 → 2).
    const first = readdirSync(join(a.out, 'runs'));
    const more = await diagnose({ ...a, iterations: 2, resume: true });
    expect(more).toMatch(/UMO with \d edits/);
    expect(readdirSync(join(a.out, 'runs'))).toEqual(first);
    expect((report(a.out) as { history: unknown[] }).history).toHaveLength(2);
    // Nothing left to resume (2 of 2 done): a new run.
    await diagnose({ ...a, iterations: 1, resume: true });
    expect(readdirSync(join(a.out, 'runs'))).toHaveLength(2);
  }, 180_000);

  it('zoom: directions learned and cached per phrase, the histogram and flip rates', async () => {
    const cache = fresh();
    const a = args({ method: 'zoom', attributes: 'blond hair,glasses', directionSteps: 1, directionCache: cache });
    const text = await diagnose(a);
    expect(text).toMatch(/ZOOM over 2 attribute directions/);
    const r = report(a.out) as { histogram: { share: number }[]; flipRates: unknown[]; oracle: { planted: string } };
    expect(r.histogram.reduce((s, h) => s + h.share, 0)).toBeCloseTo(1, 5);
    expect(r.flipRates).toHaveLength(2);
    expect(r.oracle.planted).toBe('hair_color');
    // One cached direction per phrase (a later run reads them instead of learning them again).
    const cached = readdirSync(cache).flatMap((key) => readdirSync(join(cache, key)));
    expect(cached.sort()).toEqual(['blond_hair.safetensors', 'glasses.safetensors']);
    // --resume: a run killed after its first attribute (its state, one row, marked) is finished in its folder,
    // the stored row reused and only the other attribute measured.
    const [id] = readdirSync(join(a.out, 'runs'));
    const stateFile = join(a.out, 'runs', id, 'zoom-state.json');
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { rows: { attribute: string; sensitivity: number }[]; complete: boolean };
    const kept = { ...state.rows.find((x) => x.attribute === 'glasses')!, sensitivity: 0.123 };
    writeFileSync(stateFile, JSON.stringify({ ...state, rows: [kept], complete: false }));
    await diagnose({ ...a, resume: true });
    expect(readdirSync(join(a.out, 'runs'))).toEqual([id]);
    const again = report(a.out) as { histogram: { attribute: string; sensitivity: number }[] };
    expect(again.histogram.find((h) => h.attribute === 'glasses')?.sensitivity).toBe(0.123);
    expect(again.histogram).toHaveLength(2);
    expect((JSON.parse(readFileSync(stateFile, 'utf8')) as { complete: boolean }).complete).toBe(true);
  }, 180_000);
});
