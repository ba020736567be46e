// Reads the diffusers scheduler fixtures (test/fixtures/schedulers, made by running diffusers' own
// scheduler code; README.md there describes them).
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

const dir = new URL('../fixtures/schedulers/', import.meta.url).pathname;

/** A fixture float: a JSON number (the float32's shortest decimal) or 'NaN' / 'Infinity' / '-Infinity'. */
export const float32 = (v: number | string): number => Math.fround(typeof v === 'string' ? Number(v) : v);
export const floats32 = (vs: readonly (number | string)[]): Float32Array => Float32Array.from(vs.map(float32));

export type TimestepEntry = number[] | { error: string };
export type TimestepTable = TimestepEntry[] | { same_as: string } | { error: string };

export const SCHEDULER_CLASSES = ['DDIMScheduler', 'DDPMScheduler', 'DPMSolverMultistepScheduler'] as const;
export const SPACINGS = ['leading', 'trailing', 'linspace'] as const;

export function timestepTables(): Record<string, Record<string, TimestepTable>> {
  return JSON.parse(gunzipSync(readFileSync(`${dir}timesteps.json.gz`)).toString('utf8')).schedulers;
}

/** The table of `key`, following same_as references. */
export function resolveTable(tables: Record<string, Record<string, TimestepTable>>, cls: string, key: string): TimestepTable {
  const t = tables[cls][key];
  return t && !Array.isArray(t) && 'same_as' in t ? resolveTable(tables, t.same_as, key) : t;
}

export interface AlphasEntry {
  config: Record<string, unknown>;
  betas: (number | string)[];
  alphas_cumprod: (number | string)[];
  final_alpha_cumprod?: Record<'True' | 'False', number>;
  initial_alpha_cumprod?: Record<'True' | 'False', number>;
}

export function alphaTables(): Record<string, Record<string, AlphasEntry>> {
  return JSON.parse(readFileSync(`${dir}alphas.json`, 'utf8')).schedulers;
}

export interface Loop {
  name: string;
  scheduler: 'DDIMScheduler' | 'DDIMInverseScheduler' | 'DDPMScheduler' | 'DPMSolverMultistepScheduler';
  config: Record<string, unknown>;
  num_inference_steps: number;
  step_kwargs: { eta?: number };
  uses_noise: boolean;
  model: 'dummy_model' | 'dummy_model+sigmoid_variance';
  timesteps?: number[];
  samples?: (number | string)[][];
  error?: string;
}

export interface Loops {
  initial_sample: (number | string)[];
  noise: (number | string)[][];
  loops: Loop[];
  meta: { sample_shape: number[] };
}

export function loopFixtures(): Loops {
  return JSON.parse(readFileSync(`${dir}loops.json`, 'utf8'));
}
