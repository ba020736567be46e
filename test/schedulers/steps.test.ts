// Step behaviour beyond the plain loops: custom timestep lists, use_clipped_model_output, DDIM's
// invertStep, dynamic thresholding's quantile, and the refusals where diffusers would index out of
// range or produce NaN. Expected values come from the fixture loops or from an independent CPU
// reference of torch's semantics, never from this code.
import { beforeAll, describe, expect, it } from 'vitest';
import { div, fromArray, mul, type HostArray, type Tensor } from '../../src/index.js';
import { DDIMInverseScheduler, DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, type Scheduler } from '../../src/schedulers/index.js';
import { dynamicThreshold } from '../../src/schedulers/threshold.js';
import { assertClose, checkOp, randomArray, setupGpu } from '../helpers/gpu.js';
import { floats32, loopFixtures, type Loop } from './scheduler-fixtures.js';

const fx = loopFixtures();
const shape = fx.meta.sample_shape;
const initial = floats32(fx.initial_sample);
const noise = fx.noise.map(floats32);
const loop = (name: string): Loop => fx.loops.find((l) => l.name === name)!;
const dummy = (x: Tensor, t: number) => div(mul(x, Math.fround(t)), Math.fround(t + 1));

beforeAll(async () => {
  await setupGpu();
});

/** Runs `l` with `step` (default: the scheduler's own) and checks every sample against the fixture. */
async function runLoop(l: Loop, s: Scheduler, step?: (out: Tensor, t: number, x: Tensor, i: number) => Tensor): Promise<void> {
  let x = fromArray(initial, shape);
  for (const [i, t] of l.timesteps!.entries()) {
    const out = dummy(x, t);
    const n = l.uses_noise ? fromArray(noise[i], shape) : undefined;
    let next: Tensor;
    if (step) next = step(out, t, x, i);
    else {
      const r = s.step(out, t, x, { ...l.step_kwargs, noise: n });
      r.predOriginalSample.dispose();
      next = r.prevSample;
    }
    const want = floats32(l.samples![i]);
    assertClose(await next.toArray(), want, { atol: 4e-6 * Math.max(1, ...Array.from(want, Math.abs)), rtol: 0 }, `${l.name} step ${i}`);
    out.dispose();
    n?.dispose();
    x.dispose();
    x = next;
  }
  x.dispose();
}

describe('custom timestep lists', () => {
  it('DDIM, DDPM and DPM-Solver given the fixture loops\' timesteps explicitly reproduce those loops', async () => {
    const ddim = loop('ddim|epsilon|clip1|alpha11|eta1');
    const s1 = new DDIMScheduler(ddim.config);
    s1.setTimesteps({ timesteps: ddim.timesteps! });
    await runLoop(ddim, s1);
    const ddpm = loop('ddpm|fixed_small');
    const s2 = new DDPMScheduler(ddpm.config);
    s2.setTimesteps({ timesteps: ddpm.timesteps! });
    await runLoop(ddpm, s2);
    const dpm = loop('dpm|dpmsolver++|order3|heun|epsilon');
    const s3 = new DPMSolverMultistepScheduler(dpm.config);
    s3.setTimesteps({ timesteps: dpm.timesteps! });
    await runLoop(dpm, s3);
  });

  it('are validated as diffusers\' DDPMScheduler validates them', () => {
    const s = new DDPMScheduler();
    expect(() => s.setTimesteps({ timesteps: [900, 950, 0] })).toThrow(/^cflens: DDPMScheduler: custom timesteps must be in strictly descending order, got 900 then 950/);
    expect(() => s.setTimesteps({ timesteps: [1000, 500] })).toThrow(/must start below num_train_timesteps \(1000\), got 1000/);
    expect(() => new DDIMScheduler().setTimesteps({ timesteps: [500, -1] })).toThrow(/^cflens: DDIMScheduler: custom timesteps must be ≥ 0/);
    expect(() => new DDIMInverseScheduler().setTimesteps({ timesteps: [0, 500] })).toThrow(/custom timesteps are not supported/);
    s.setTimesteps({ timesteps: [900, 500, 0] });
    expect(s.previousTimestep(900)).toBe(500);
    expect(s.previousTimestep(0)).toBe(-1);
    expect(() => s.previousTimestep(800)).toThrow(/timestep 800 is not one of the scheduler's timesteps/);
  });
});

describe('DDIM options without their own fixture loop', () => {
  it('use_clipped_model_output changes nothing when nothing is clipped (diffusers\' documented behaviour)', async () => {
    const l = loop('ddim|epsilon|clip0|alpha10|eta1');
    const s = new DDIMScheduler(l.config);
    s.setTimesteps(l.num_inference_steps);
    await runLoop(l, s, (out, t, x, i) => {
      const n = fromArray(noise[i], shape);
      const r = s.step(out, t, x, { eta: 1, noise: n, useClippedModelOutput: true });
      n.dispose();
      r.predOriginalSample.dispose();
      return r.prevSample;
    });
  });

  it('invertStep(model output at t, t − ⌊T/n⌋, t, x) reproduces diffusers\' DDIMInverseScheduler loops (clip_sample, v_prediction)', async () => {
    for (const name of ['ddim_inverse|epsilon|clip0', 'ddim_inverse|epsilon|clip1', 'ddim_inverse|v_prediction|clip0', 'ddim_inverse|v_prediction|clip1']) {
      const l = loop(name);
      const s = new DDIMScheduler(l.config); // set_alpha_to_one: ᾱ before 0 is 1, the inverse scheduler's initial ᾱ
      await runLoop(l, s, (out, t, x) => s.invertStep(out, t - 100, t, x));
    }
  });
});

describe('refusals where diffusers indexes out of range or returns NaN', () => {
  const x = () => fromArray(initial, shape);

  it('trailing spacing\'s −1 timestep, named with the setting', () => {
    for (const s of [new DDIMScheduler({ timestep_spacing: 'trailing' }), new DDPMScheduler({ timestep_spacing: 'trailing' })]) {
      const ts = s.setTimesteps(61);
      expect(ts).toHaveLength(62);
      expect(ts.at(-1)).toBe(-1);
      const xs = x();
      expect(() => s.step(xs, -1, xs, { noise: xs })).toThrow(/^cflens: DD[IP]MScheduler: timestep -1 is outside alphas_cumprod .*timestep_spacing 'trailing' with 61 steps gives 62 timesteps ending in -1/);
      xs.dispose();
    }
    const inv = new DDIMInverseScheduler({ timestep_spacing: 'trailing' });
    expect(inv.setTimesteps(61)[0]).toBe(-1);
    const xs = x();
    expect(() => inv.step(xs, -1, xs)).toThrow(/^cflens: DDIMInverseScheduler: timestep -1 is outside alphas_cumprod/);
    xs.dispose();
  });

  it('leading spacing with steps_offset 1 and 1000 steps starts at timestep 1000', () => {
    const s = new DDIMScheduler({ steps_offset: 1 });
    expect(s.setTimesteps(1000)[0]).toBe(1000);
    const xs = x();
    expect(() => s.step(xs, 1000, xs)).toThrow(/^cflens: DDIMScheduler: timestep 1000 is outside alphas_cumprod \(num_train_timesteps 1000: 0\.\.999\): steps_offset 1 with 1000 steps/);
    xs.dispose();
  });

  it('epsilon prediction at ᾱ_t = 0 (zero terminal SNR) and learned variance without its channels', () => {
    const s = new DDIMScheduler({ rescale_betas_zero_snr: true, timestep_spacing: 'trailing' });
    s.setTimesteps(10);
    const xs = x();
    expect(() => s.step(xs, 999, xs)).toThrow(/prediction_type 'epsilon' divides by √ᾱ_t = 0/);
    const d = new DDPMScheduler({ variance_type: 'learned' });
    d.setTimesteps(10);
    expect(() => d.step(xs, 900, xs, { noise: xs })).toThrow(/variance_type 'learned' needs the variance prediction: a model output with 6 channels/);
    expect(() => d.step(xs, 900, xs)).toThrow(/needs the variance prediction/);
    expect(() => new DDPMScheduler().step(xs, 900, xs, { eta: 0 })).toThrow(/eta 0 does not apply/);
    xs.dispose();
  });

  it('DPM-Solver: no noise, no stepping past the end', () => {
    const s = new DPMSolverMultistepScheduler({ solver_order: 1 });
    s.setTimesteps(1);
    const xs = x();
    expect(() => s.step(xs, 999, xs, { eta: 1, noise: xs })).toThrow(/is deterministic: it takes no eta or noise/);
    const r = s.step(xs, 999, xs);
    r.prevSample.dispose();
    r.predOriginalSample.dispose();
    expect(() => s.step(xs, 999, xs)).toThrow(/all 1 steps are done; call setTimesteps again/);
    s.reset();
    xs.dispose();
  });
});

/** diffusers' _threshold_sample in float64 on the CPU: sort, torch.quantile's linear interpolation, clamp, divide. */
function thresholdReference(x: HostArray, ratio: number, maxValue: number): HostArray {
  const [b] = x.shape;
  const n = x.data.length / b;
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < b; r++) {
    const row = x.data.subarray(r * n, (r + 1) * n);
    const sorted = Array.from(row, Math.abs).sort((p, q) => p - q);
    const rank = Math.fround(Math.fround(ratio) * (n - 1));
    const lo = sorted[Math.floor(rank)];
    const hi = sorted[Math.ceil(rank)];
    const q = lo + (rank - Math.floor(rank)) * (hi - lo);
    const s = Math.min(Math.max(q, 1), maxValue);
    row.forEach((v, i) => { out[r * n + i] = Math.min(Math.max(v, -s), s) / s; });
  }
  return { shape: x.shape, data: out };
}

describe('dynamic thresholding', () => {
  it('matches a sort-based torch.quantile reference, forward and gradient, when the quantile is above 1', async () => {
    const x = randomArray([2, 3, 5, 7], 11, -3, 3); // 105 values per sample: rank 0.995·104 = 103.48 interpolates
    for (const [ratio, maxValue] of [[0.995, 3.5], [0.9, 10], [0.995, 2], [0.5, 0.8], [1, 4]] as const) {
      await checkOp(
        `threshold ratio ${ratio} max ${maxValue}`, (t) => dynamicThreshold(t, ratio, maxValue), (h) => thresholdReference(h, ratio, maxValue), [x],
        { atol: 1e-6, rtol: 1e-5, eps: 1e-4 },
      );
    }
  });

  it('handles ties and splits the comparison into chunks on large samples', async () => {
    const data = new Float64Array(2 * 4096);
    for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 1000) / 200 - 2.5; // many equal values
    const x = { shape: [2, 4, 32, 32], data }; // 2·4096² comparisons: 8 chunks
    await checkOp('threshold ties', (t) => dynamicThreshold(t, 0.995, 3), (h) => thresholdReference(h, 0.995, 3), [x], { atol: 1e-6, rtol: 1e-5, grad: false });
  });
});
