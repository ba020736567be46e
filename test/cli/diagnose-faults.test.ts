// cflens diagnose under bad input and faults: each stops with a message naming the problem, before the
// work where it can, and never leaves a report built from garbage or a mix of two runs.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommand, UsageError } from '../../src/cli/args.js';
import { diagnose, type DiagnoseArgs } from '../../src/cli/diagnose.js';
import { latestRun, startRun } from '../../src/cli/run-dir.js';
import { SafetensorsFile, bytesSource, writeSafetensors, toFloat32, type TensorToWrite } from '../../src/io/safetensors.js';

const root = new URL('../../', import.meta.url).pathname;
const defaults = join(root, 'models/defaults');
const fresh = () => mkdtempSync(join(tmpdir(), 'cflens-diag-'));
const small = (o: Partial<DiagnoseArgs>): DiagnoseArgs => ({
  method: 'exact', target: 'smile_blond', models: defaults, out: join(fresh(), 'report'), faces: 4, counterfactuals: 1, iterations: 1, seed: 0,
  k: 2, batch: 4, generator: 'ddpm', steps: 5, invertSteps: 2, ...o,
});

/** A models folder whose entries link to the shipped ones, except those given (copied, to be broken). */
function modelsCopy(own: string[]): string {
  const dir = fresh();
  for (const name of readdirSync(defaults)) {
    if (own.includes(name)) cpSync(join(defaults, name), join(dir, name), { recursive: true });
    else symlinkSync(join(defaults, name), join(dir, name));
  }
  return dir;
}

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [join(root, 'bin/cflens.mjs'), ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

const DIAGNOSE = { target: { type: 'string' }, out: { type: 'string' }, faces: { type: 'string', min: 1 }, seed: { type: 'string', min: 0 } } as const;

describe('cflens diagnose: flags', () => {
  it('refuses unknown flags, misspellings, missing values and out-of-range numbers by name', () => {
    expect(() => parseCommand('diagnose', ['--Faces', '8'], DIAGNOSE)).toThrow(/unknown option --Faces \(options: --target, --out, --faces, --seed\)/);
    expect(() => parseCommand('diagnose', ['--faces'], DIAGNOSE)).toThrow(/--faces needs a value/);
    expect(() => parseCommand('diagnose', ['--faces', '--seed', '1'], DIAGNOSE)).toThrow(/--faces needs a value/);
    expect(() => parseCommand('diagnose', ['--faces', '0'], DIAGNOSE)).toThrow(/--faces must be at least 1, got 0/);
    expect(() => parseCommand('diagnose', ['--seed', '1.5'], DIAGNOSE)).toThrow(/--seed must be a whole number, got 1.5/);
    expect(() => parseCommand('diagnose', ['extra'], DIAGNOSE)).toThrow(UsageError);
    expect(parseCommand('diagnose', ['--faces', '8', '--target', 'x'], DIAGNOSE).values).toEqual({ faces: '8', target: 'x' });
  });

  it('the CLI exits 2 on a usage error, before touching the GPU', () => {
    const r = cli(['diagnose', '--Faces', '8']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cflens diagnose: unknown option --Faces/);
  });
});

describe('cflens diagnose: bad input', () => {
  it('an --out that cannot be created fails at once, before any computation', async () => {
    const t0 = performance.now();
    await expect(diagnose(small({ out: '/proc/cflens-out' }))).rejects.toThrow(/output folder \/proc\/cflens-out\/runs\/.* is not writable/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('a config.json that is not JSON is named as such (not as a missing model)', async () => {
    const models = modelsCopy(['smile_blond']);
    writeFileSync(join(models, 'smile_blond/config.json'), '{"cflens_label": ');
    await expect(diagnose(small({ models }))).rejects.toThrow(/smile_blond\/config\.json is not valid JSON/);
    await expect(diagnose(small({ models, target: 'nope' }))).rejects.toThrow(/no model 'nope' in .*expected .*nope\/config\.json/);
  });

  it('a missing scheduler_config.json names the file', async () => {
    const models = modelsCopy(['ddpm']);
    rmSync(join(models, 'ddpm/scheduler_config.json'));
    await expect(diagnose(small({ models }))).rejects.toThrow(/cannot read .*ddpm\/scheduler_config\.json: it does not exist/);
  });

  it('weights full of NaN stop the diagnosis with the model named; no report is published', async () => {
    const models = modelsCopy(['smile_blond']);
    const file = join(models, 'smile_blond/model.safetensors');
    const st = await SafetensorsFile.open(bytesSource(file, readFileSync(file)));
    const poisoned: Record<string, TensorToWrite> = {};
    for (const name of st.names()) {
      const t = await st.read(name, { float32: true });
      poisoned[name] = { dtype: 'F32', shape: t.shape, data: toFloat32(t).map(() => NaN) };
    }
    writeFileSync(file, writeSafetensors(poisoned));
    const a = small({ models });
    await expect(diagnose(a)).rejects.toThrow(/target classifier \(.*smile_blond\) produced 8 non-finite values \(NaN or ±inf\) of 8/);
    expect(await latestRun(a.out)).toBeNull();
  });

  it('an adapter that computes nothing (Dawn\'s null backend) is refused by the self-check', () => {
    const r = cli(['diagnose', '--out', join(fresh(), 'r'), '--faces', '2', '--counterfactuals', '0'], { CFLENS_BACKEND: 'null' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/computes wrong results.*cflens doctor/);
  });
});

describe('cflens diagnose: runs never mix', () => {
  it('a run that never finishes leaves latest on the previous run', async () => {
    const out = join(fresh(), 'report');
    const first = await startRun(out, 'a', new Date(0));
    await first.write('report.json', '{"run":"a"}');
    await first.publish();
    const second = await startRun(out, 'b', new Date(1000));
    await second.write('report.json', '{"run":"b"}'); // killed here: never published
    expect(readlinkSync(join(out, 'latest'))).toBe(join('runs', first.id));
    expect(readFileSync(join(out, 'latest/report.json'), 'utf8')).toBe('{"run":"a"}');
  });

  it('two diagnoses into one --out write separate runs, each whole', async () => {
    const out = join(fresh(), 'report');
    const [a, b] = await Promise.all([diagnose(small({ out, target: 'smile_blond' })), diagnose(small({ out, target: 'smile_control', seed: 1 }))]);
    expect(a).toMatch(/smile_blond/);
    expect(b).toMatch(/smile_control/);
    const runs = readdirSync(join(out, 'runs'));
    expect(runs).toHaveLength(2);
    for (const r of runs) {
      const target = r.includes('smile_blond') ? 'smile_blond' : 'smile_control';
      expect(JSON.parse(readFileSync(join(out, 'runs', r, 'report.json'), 'utf8')).target).toBe(target);
      expect(readFileSync(join(out, 'runs', r, 'report.html'), 'utf8')).toContain(target);
      expect(existsSync(join(out, 'runs', r, 'pairs.png'))).toBe(true);
    }
    expect(runs.map((r) => join('runs', r))).toContain(readlinkSync(join(out, 'latest')));
  });
});
