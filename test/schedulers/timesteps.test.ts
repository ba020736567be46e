// Every entry of diffusers' timesteps table (timesteps.json.gz): DDIM, DDPM and DPM-Solver ×
// leading/trailing/linspace × steps_offset 0/1 × 1–1000 steps, and 1001 steps. Where diffusers
// raised, we refuse too.
import { describe, expect, it } from 'vitest';
import { DDIMInverseScheduler, DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, type Scheduler } from '../../src/schedulers/index.js';
import { resolveTable, SCHEDULER_CLASSES, SPACINGS, timestepTables, type TimestepEntry, type TimestepTable } from './scheduler-fixtures.js';

const tables = timestepTables();

function make(cls: (typeof SCHEDULER_CLASSES)[number], config: Record<string, unknown>): Scheduler {
  if (cls === 'DDIMScheduler') return new DDIMScheduler(config);
  if (cls === 'DDPMScheduler') return new DDPMScheduler(config);
  return new DPMSolverMultistepScheduler(config);
}

/** Mismatches of one table against setTimesteps(first … first + entries − 1). */
function mismatches(make: () => Scheduler, entries: readonly TimestepEntry[], first: number): string[] {
  const bad: string[] = [];
  entries.forEach((want, i) => {
    const steps = first + i;
    let got: number[] | { error: string };
    try {
      got = make().setTimesteps(steps);
    } catch (e) {
      got = { error: (e as Error).message };
    }
    if (Array.isArray(want)) {
      if (!Array.isArray(got) || got.length !== want.length || got.some((t, k) => t !== want[k])) {
        bad.push(`${steps} steps: got ${JSON.stringify(got).slice(0, 120)}`);
      }
    } else if (Array.isArray(got) || !got.error.startsWith('cflens:')) {
      bad.push(`${steps} steps: diffusers raised ${want.error}; we returned ${JSON.stringify(got).slice(0, 120)}`);
    }
  });
  return bad;
}

const entriesOf = (t: TimestepTable): TimestepEntry[] => (Array.isArray(t) ? t : [t as TimestepEntry]);

describe('timesteps: every entry of diffusers\' table', () => {
  for (const cls of SCHEDULER_CLASSES) {
    for (const spacing of SPACINGS) {
      for (const offset of [0, 1]) {
        const key = `${spacing}|offset${offset}`;
        it(`${cls} ${key}: 1–1000 steps and 1001`, () => {
          const config = { num_train_timesteps: 1000, timestep_spacing: spacing, steps_offset: offset };
          const table = entriesOf(resolveTable(tables, cls, key));
          expect(table).toHaveLength(1000);
          // The n1001 value is one entry: the timesteps, or diffusers' error.
          const n1001 = [resolveTable(tables, cls, `${key}|n1001`) as TimestepEntry];
          const bad = [...mismatches(() => make(cls, config), table, 1), ...mismatches(() => make(cls, config), n1001, 1001)];
          expect(bad, bad.slice(0, 5).join('\n')).toEqual([]);
        });
      }
    }
  }

  it('holds diffusers\' quirks: trailing ends in −1 for 62 counts, leading+offset 1 starts at 1000, DPM leading repeats 0', () => {
    const trailing = entriesOf(resolveTable(tables, 'DDIMScheduler', 'trailing|offset0')) as number[][];
    const minusOne = trailing.flatMap((ts, i) => (ts.at(-1) === -1 ? [i + 1] : []));
    expect(minusOne).toHaveLength(62);
    expect(minusOne.slice(0, 5)).toEqual([61, 103, 121, 122, 201]);
    for (const n of minusOne) expect(trailing[n - 1]).toHaveLength(n + 1);
    expect((entriesOf(resolveTable(tables, 'DDIMScheduler', 'leading|offset1')) as number[][])[999][0]).toBe(1000);
    expect(new Set((entriesOf(resolveTable(tables, 'DPMSolverMultistepScheduler', 'leading|offset0')) as number[][])[999]).size).toBeLessThan(1000);
  });
});

describe('timesteps: DDIMInverseScheduler', () => {
  // diffusers' inverse scheduler builds its timesteps from the same arange as DDIMScheduler and
  // reverses them (leading: arange(0, n)·ratio + offset; trailing: round(arange(T, 0, −T/n)[::-1]) − 1),
  // so its table is the DDIM table reversed; linspace is not offered.
  for (const spacing of ['leading', 'trailing'] as const) {
    for (const offset of [0, 1]) {
      it(`${spacing}|offset${offset}: the DDIM table reversed, 1–1000 steps`, () => {
        const table = entriesOf(resolveTable(tables, 'DDIMScheduler', `${spacing}|offset${offset}`)) as number[][];
        const reversed = table.map((ts) => [...ts].reverse());
        const bad = mismatches(() => new DDIMInverseScheduler({ timestep_spacing: spacing, steps_offset: offset }), reversed, 1);
        expect(bad, bad.slice(0, 5).join('\n')).toEqual([]);
      });
    }
  }

  it('refuses linspace spacing, which diffusers\' inverse scheduler does not offer', () => {
    expect(() => new DDIMInverseScheduler({ timestep_spacing: 'linspace' })).toThrow(/cflens: DDIMInverseScheduler: unknown timestep_spacing 'linspace' \(supported: 'leading', 'trailing'\)/);
  });
});
