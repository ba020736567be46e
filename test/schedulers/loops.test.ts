// Every loop diffusers ran in loops.json, run here on the GPU with the same dummy model, initial
// sample and noise, compared step by step. Expectations come only from the fixture.
//
// Tolerance: our loop runs in float32 on the GPU, diffusers' in float32 on the CPU. The scalar
// coefficients are the same float32 values (computed as torch does), but a GPU's division and exp
// may differ from the CPU's by a few ulps, and the error carries through up to 20 steps. Each step
// is held to |ours − diffusers| ≤ 4e-6·max(1, max|diffusers|) (samples reach |x| ≈ 4.4; 4e-6 is
// ~30 float32 ulps at 1). The worst seen on lavapipe is 5.4e-7 (DPM-Solver, 20 steps); run with
// WORST_ERRORS=1 to print it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concat, div, fromArray, mul, sigmoid, type Tensor } from '../../src/index.js';
import { DDIMInverseScheduler, DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, type Scheduler } from '../../src/schedulers/index.js';
import { setupGpu } from '../helpers/gpu.js';
import { floats32, loopFixtures, type Loop } from './scheduler-fixtures.js';

const fx = loopFixtures();
const shape = fx.meta.sample_shape;
const initial = floats32(fx.initial_sample);
const noise = fx.noise.map(floats32);
const TOLERANCE = 4e-6;
const worst: { loop: string; step: number; error: number }[] = [];

beforeAll(async () => {
  await setupGpu();
});

afterAll(() => {
  if (process.env.WORST_ERRORS) {
    const top = [...worst].sort((a, b) => b.error - a.error).slice(0, 5);
    console.log(`worst scaled errors over ${worst.length} loops:`, top);
  }
});

function makeScheduler(l: Loop): Scheduler {
  switch (l.scheduler) {
    case 'DDIMScheduler': return new DDIMScheduler(l.config);
    case 'DDIMInverseScheduler': return new DDIMInverseScheduler(l.config);
    case 'DDPMScheduler': return new DDPMScheduler(l.config);
    case 'DPMSolverMultistepScheduler': return new DPMSolverMultistepScheduler(l.config);
  }
}

/** diffusers' test dummy_model: eps = sample · t / (t + 1); learned variance types get cat([eps, sigmoid(eps)], 1). */
function dummyModel(l: Loop, x: Tensor, t: number): Tensor {
  const eps = div(mul(x, Math.fround(t)), Math.fround(t + 1));
  if (l.model === 'dummy_model') return eps;
  const out = concat([eps, sigmoid(eps)], 1);
  eps.dispose();
  return out;
}

const isNonFinite = (v: number | string) => typeof v === 'string';

describe('diffusers scheduler loops (loops.json)', () => {
  it('covers every scheduler and option the README lists', () => {
    const count = (s: string) => fx.loops.filter((l) => l.scheduler === s).length;
    expect(fx.loops).toHaveLength(79);
    expect([count('DDIMScheduler'), count('DDIMInverseScheduler'), count('DDPMScheduler'), count('DPMSolverMultistepScheduler')]).toEqual([30, 4, 9, 36]);
  });

  it.each(fx.loops.map((l) => [l.name, l] as const))('%s', async (_, l) => {
    if (l.error) {
      // diffusers refused the config: so do we, at construction or setTimesteps.
      expect(l.error).toMatch(/final_sigmas_type/);
      expect(() => makeScheduler(l).setTimesteps(l.num_inference_steps)).toThrow(/cflens: .*final_sigmas_type 'zero' is not supported/);
      return;
    }
    const s = makeScheduler(l);
    expect(s.setTimesteps(l.num_inference_steps)).toEqual(l.timesteps);
    const firstNaN = l.samples!.findIndex((row) => row.some(isNonFinite));
    let x = fromArray(initial, shape);
    let loopWorst = 0;
    for (const [i, t] of s.timesteps.entries()) {
      const out = dummyModel(l, x, t);
      const n = l.uses_noise ? fromArray(noise[i], shape) : undefined;
      const opts = { ...l.step_kwargs, noise: n };
      if (i === firstNaN) {
        // diffusers produced NaN from here on; we refuse with an error that says why.
        expect(() => s.step(out, t, x, opts)).toThrow(/^cflens: .*(NaN|divides by)/);
        out.dispose();
        n?.dispose();
        break;
      }
      const r = s.step(out, t, x, opts);
      const got = await r.prevSample.toArray();
      const want = floats32(l.samples![i]);
      const scale = Math.max(1, ...Array.from(want, Math.abs));
      let err = 0;
      for (let k = 0; k < want.length; k++) err = Math.max(err, Math.abs(got[k] - want[k]) / scale);
      expect(err, `${l.name}: step ${i} (t = ${t})`).toBeLessThanOrEqual(TOLERANCE);
      loopWorst = Math.max(loopWorst, err);
      out.dispose();
      n?.dispose();
      r.predOriginalSample.dispose();
      x.dispose();
      x = r.prevSample;
    }
    x.dispose();
    s.reset();
    if (firstNaN < 0) worst.push({ loop: l.name, step: -1, error: loopWorst });
  });
});
