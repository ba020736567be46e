import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DDIMScheduler } from '../../src/schedulers/ddim.js';
import { alphasCumprod, makeBetas } from '../../src/schedulers/betas.js';
import { resolveDDIMConfig as resolveConfig } from '../../src/schedulers/config.js';
import { inferenceTimesteps } from '../../src/schedulers/timesteps.js';
import { fromArray } from '../../src/index.js';
import { readSafetensors } from '../reference/fixture.js';
import { assertClose, setupGpu } from '../helpers/gpu.js';

const dir = new URL('../fixtures/ddim_A/', import.meta.url);
const config = JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')).scheduler;
const io = readSafetensors(new URL('io.safetensors', dir).pathname);

beforeAll(async () => {
  await setupGpu();
});

describe('noise schedules (diffusers DDIMScheduler, Stable Diffusion config)', () => {
  it('matches the fixture alphas_cumprod and set_timesteps(10)', () => {
    const s = new DDIMScheduler(config);
    assertClose(s.alphasCumprod, io.get('alphas_cumprod')!.data, { atol: 1e-7, rtol: 1e-6 });
    expect(s.setTimesteps(10)).toEqual(Array.from(io.get('timesteps')!.data));
  });

  it('chooses the timesteps diffusers chooses for each spacing', () => {
    const base = { num_train_timesteps: 1000, steps_offset: 0 };
    expect(inferenceTimesteps(resolveConfig({ ...base, timestep_spacing: 'leading', steps_offset: 1 }), 10))
      .toEqual([901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
    expect(inferenceTimesteps(resolveConfig({ ...base, timestep_spacing: 'trailing' }), 10)).toEqual([999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
    expect(inferenceTimesteps(resolveConfig({ ...base, timestep_spacing: 'linspace' }), 10)).toEqual([999, 888, 777, 666, 555, 444, 333, 222, 111, 0]);
    // np.round rounds halves to even: arange(1000, 0, -2.5) holds 997.5 -> 998 and 992.5 -> 992 (numpy: [999 997 994 991]).
    expect(inferenceTimesteps(resolveConfig({ ...base, timestep_spacing: 'trailing' }), 400).slice(0, 4)).toEqual([999, 997, 994, 991]);
    expect(() => inferenceTimesteps(resolveConfig(base), 0)).toThrow(/steps must be an integer/);
  });

  it('builds linear and squaredcos_cap_v2 betas like diffusers', () => {
    const lin = makeBetas(resolveConfig({ beta_schedule: 'linear', beta_start: 1e-4, beta_end: 0.02 }));
    expect(lin[0]).toBeCloseTo(1e-4, 9);
    expect(lin[999]).toBeCloseTo(0.02, 9);
    const cos = makeBetas(resolveConfig({ beta_schedule: 'squaredcos_cap_v2' }));
    const ac = alphasCumprod(cos);
    // The cumulative product telescopes to alpha_bar(t) / alpha_bar(0).
    const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
    expect(ac[499]).toBeCloseTo(alphaBar(0.5) / alphaBar(0), 5);
    expect(cos[999]).toBeCloseTo(0.999, 6);
    expect(() => makeBetas(resolveConfig({ beta_schedule: 'cosine' as never }))).toThrow(/unknown beta_schedule/);
  });
});

describe('DDIM step', () => {
  const x = [0.3, -1.2, 0.8, 2.0];
  const e = [0.1, 0.5, -0.4, 0.9];

  it('eta = 0 follows the DDIM update for epsilon and v_prediction', async () => {
    for (const prediction_type of ['epsilon', 'v_prediction'] as const) {
      const s = new DDIMScheduler({ ...config, prediction_type });
      s.setTimesteps(10);
      const t = s.timesteps[2];
      const at = s.alphasCumprod[t];
      const ap = s.alphasCumprod[t - 100];
      const out = s.step(fromArray(e), t, fromArray(x));
      const expected = x.map((xi, i) => {
        const x0 = prediction_type === 'epsilon' ? (xi - Math.sqrt(1 - at) * e[i]) / Math.sqrt(at) : Math.sqrt(at) * xi - Math.sqrt(1 - at) * e[i];
        const eps = prediction_type === 'epsilon' ? e[i] : Math.sqrt(at) * e[i] + Math.sqrt(1 - at) * xi;
        return Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * eps;
      });
      assertClose(await out.prevSample.toArray(), expected, { atol: 1e-5 });
    }
  });

  it('eta > 0 adds seeded noise with the DDIM variance, and asks for noise', async () => {
    const s = new DDIMScheduler(config);
    s.setTimesteps(10);
    const t = s.timesteps[0];
    expect(() => s.step(fromArray(e), t, fromArray(x), { eta: 1 })).toThrow(/needs opts.noise/);
    const noise = [1, -1, 0.5, 0];
    const a = s.step(fromArray(e), t, fromArray(x), { eta: 1, noise: fromArray(noise) }).prevSample;
    const at = s.alphasCumprod[t];
    const ap = s.alphasCumprod[t - 100];
    const std = Math.sqrt(((1 - ap) / (1 - at)) * (1 - at / ap));
    const x0 = x.map((xi, i) => (xi - Math.sqrt(1 - at) * e[i]) / Math.sqrt(at));
    const expected = x.map((_, i) => Math.sqrt(ap) * x0[i] + Math.sqrt(1 - ap - std * std) * e[i] + std * noise[i]);
    assertClose(await a.toArray(), expected, { atol: 1e-5 });
  });

  it('the last step lands on alpha_prod = 1 when set_alpha_to_one', async () => {
    const s = new DDIMScheduler({ ...config, set_alpha_to_one: true });
    s.setTimesteps(10);
    const t = s.timesteps[9];
    const out = s.step(fromArray(e), t, fromArray(x));
    assertClose(await out.prevSample.toArray(), await out.predOriginalSample.toArray(), { atol: 1e-6 });
  });
});
