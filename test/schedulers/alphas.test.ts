// Betas and ᾱ (alphas.json): every beta schedule × zero-SNR rescaling, for the four schedulers, bit
// for bit (both sides are float32; ours reproduce torch's linspace and cumprod).
import { describe, expect, it } from 'vitest';
import { DDIMInverseScheduler, DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler } from '../../src/schedulers/index.js';
import { alphaTables, float32, floats32 } from './scheduler-fixtures.js';

const tables = alphaTables();

const CLASSES = {
  DDIMScheduler: (c: Record<string, unknown>) => new DDIMScheduler(c),
  DDPMScheduler: (c: Record<string, unknown>) => new DDPMScheduler(c),
  DPMSolverMultistepScheduler: (c: Record<string, unknown>) => new DPMSolverMultistepScheduler(c),
  DDIMInverseScheduler: (c: Record<string, unknown>) => new DDIMInverseScheduler(c),
} as const;

/** Indices where two float32 arrays differ (as float32 values). */
const differences = (a: Float32Array, b: Float32Array) => Array.from(a.keys()).filter((i) => !Object.is(a[i], b[i]));

describe('betas and alphas_cumprod', () => {
  it('the fixture has every scheduler × beta schedule × rescaling', () => {
    expect(Object.keys(tables).sort()).toEqual(Object.keys(CLASSES).sort());
    for (const rows of Object.values(tables)) expect(Object.keys(rows)).toHaveLength(6);
  });

  for (const [cls, rows] of Object.entries(tables)) {
    for (const [key, row] of Object.entries(rows)) {
      it(`${cls} ${key}: identical float32 values`, () => {
        const s = CLASSES[cls as keyof typeof CLASSES](row.config);
        expect(differences(s.betas, floats32(row.betas))).toEqual([]);
        expect(differences(s.alphasCumprod, floats32(row.alphas_cumprod))).toEqual([]);
        if (row.final_alpha_cumprod) {
          for (const flag of [true, false]) {
            const d = new DDIMScheduler({ ...row.config, set_alpha_to_one: flag });
            expect(d.finalAlphaCumprod).toBe(float32(row.final_alpha_cumprod[flag ? 'True' : 'False']));
          }
        }
        if (row.initial_alpha_cumprod) {
          for (const flag of [true, false]) {
            const d = new DDIMInverseScheduler({ ...row.config, set_alpha_to_one: flag });
            expect(d.initialAlphaCumprod).toBe(float32(row.initial_alpha_cumprod[flag ? 'True' : 'False']));
          }
        }
      });
    }
  }

  it('rescale_betas_zero_snr gives ᾱ_T = 0 (DPM-Solver keeps 2^-24, as diffusers)', () => {
    const rows = tables.DDIMScheduler['scaled_linear|rescale1'];
    expect(float32(rows.alphas_cumprod[999])).toBe(0);
    expect(new DDIMScheduler(rows.config).alphasCumprod[999]).toBe(0);
    expect(new DPMSolverMultistepScheduler(tables.DPMSolverMultistepScheduler['scaled_linear|rescale1'].config).alphasCumprod[999]).toBe(2 ** -24);
  });
});
