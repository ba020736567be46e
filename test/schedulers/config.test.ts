// Config keys: implemented as diffusers does, or refused with the key and the supported set.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DDIMInverseScheduler, DDIMScheduler, DDPMScheduler, DEFAULT_SCHEDULER_CONFIG, DPMSolverMultistepScheduler, schedulerFromConfig,
} from '../../src/schedulers/index.js';

const BOOKKEEPING = { _class_name: 'Whatever', _diffusers_version: '0.30.0', _use_default_values: ['beta_end'], _name_or_path: 'x' };

// A DPMSolverMultistepScheduler config as diffusers writes it (every key, defaults included).
const DPM_FULL = {
  _class_name: 'DPMSolverMultistepScheduler', _diffusers_version: '0.30.0',
  num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', trained_betas: null,
  solver_order: 2, prediction_type: 'epsilon', thresholding: false, dynamic_thresholding_ratio: 0.995, sample_max_value: 1.0,
  algorithm_type: 'dpmsolver++', solver_type: 'midpoint', lower_order_final: true, euler_at_final: false,
  use_karras_sigmas: false, use_exponential_sigmas: false, use_beta_sigmas: false, use_lu_lambdas: false, use_flow_sigmas: false,
  flow_shift: 1.0, final_sigmas_type: 'zero', lambda_min_clipped: -Infinity, variance_type: null, timestep_spacing: 'linspace',
  steps_offset: 1, rescale_betas_zero_snr: false, use_dynamic_shifting: false, time_shift_type: 'exponential',
};

// A DDIMScheduler config as diffusers writes it.
const DDIM_FULL = {
  _class_name: 'DDIMScheduler', _diffusers_version: '0.30.0',
  num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', trained_betas: null,
  clip_sample: false, set_alpha_to_one: false, steps_offset: 1, prediction_type: 'epsilon', thresholding: false,
  dynamic_thresholding_ratio: 0.995, clip_sample_range: 1.0, sample_max_value: 1.0, timestep_spacing: 'leading', rescale_betas_zero_snr: false,
};

describe('scheduler config keys', () => {
  it('DEFAULT_SCHEDULER_CONFIG holds the defaults of diffusers\' DDIMScheduler.__init__', () => {
    expect(DEFAULT_SCHEDULER_CONFIG).toEqual({
      num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null, clip_sample: true,
      set_alpha_to_one: true, steps_offset: 0, prediction_type: 'epsilon', thresholding: false, dynamic_thresholding_ratio: 0.995,
      clip_sample_range: 1.0, sample_max_value: 1.0, timestep_spacing: 'leading', rescale_betas_zero_snr: false,
    });
  });

  it('accepts diffusers\' bookkeeping keys (anything starting with _) and full configs as diffusers writes them', () => {
    expect(() => new DDIMScheduler({ ...DDIM_FULL, ...BOOKKEEPING })).not.toThrow();
    expect(() => new DDIMInverseScheduler({ ...DDIM_FULL, ...BOOKKEEPING })).not.toThrow();
    expect(() => new DDPMScheduler({ ...BOOKKEEPING, variance_type: 'learned_range', clip_sample: true })).not.toThrow();
    expect(new DPMSolverMultistepScheduler({ ...DPM_FULL, ...BOOKKEEPING }).config.steps_offset).toBe(1);
  });

  it('accepts the configs cflens ships and tests with', () => {
    const shipped = JSON.parse(readFileSync('models/defaults/ddpm/scheduler_config.json', 'utf8'));
    expect(new DDIMScheduler(shipped).config.clip_sample).toBe(true);
    const sd = JSON.parse(readFileSync(new URL('../fixtures/ddim_A/config.json', import.meta.url), 'utf8')).scheduler;
    expect(new DDIMScheduler(sd).config.steps_offset).toBe(1);
  });

  it('refuses an unknown key, naming it and the supported keys', () => {
    expect(() => new DDIMScheduler({ variance_type: 'fixed_small' })).toThrow(
      /^cflens: DDIMScheduler: unknown config key 'variance_type'; the keys it implements are num_train_timesteps, .*set_alpha_to_one.*Remove 'variance_type'/,
    );
    expect(() => new DDPMScheduler({ set_alpha_to_one: true })).toThrow(/^cflens: DDPMScheduler: unknown config key 'set_alpha_to_one'; the keys it implements are .*variance_type/);
    expect(() => new DPMSolverMultistepScheduler({ skip_prk_steps: true })).toThrow(
      /^cflens: DPMSolverMultistepScheduler: unknown config key 'skip_prk_steps'; the keys it implements are .*solver_order.* \(accepted at their defaults only: use_karras_sigmas, /,
    );
    expect(() => new DDIMInverseScheduler({ eta: 0 })).toThrow(/^cflens: DDIMInverseScheduler: unknown config key 'eta'/);
  });

  it('refuses a key diffusers has but cflens does not implement when it is not at its default', () => {
    expect(() => new DPMSolverMultistepScheduler({ use_karras_sigmas: true })).toThrow(
      /^cflens: DPMSolverMultistepScheduler: use_karras_sigmas = true is not implemented \(only its default false is accepted\); the keys DPMSolverMultistepScheduler implements are .*Remove 'use_karras_sigmas' or set it to false/,
    );
    for (const [k, v] of Object.entries({
      use_exponential_sigmas: true, use_beta_sigmas: true, use_lu_lambdas: true, use_flow_sigmas: true, flow_shift: 3, use_dynamic_shifting: true,
      time_shift_type: 'linear',
    })) {
      expect(() => new DPMSolverMultistepScheduler({ [k]: v }), k).toThrow(new RegExp(`^cflens: DPMSolverMultistepScheduler: ${k} = .* is not implemented`));
    }
    expect(() => new DDIMInverseScheduler({ thresholding: true })).toThrow(/^cflens: DDIMInverseScheduler: thresholding = true is not implemented/);
  });

  it('refuses values diffusers does not implement or that cannot work', () => {
    expect(() => new DDIMScheduler({ beta_schedule: 'cosine' })).toThrow(/^cflens: DDIMScheduler: unknown beta_schedule 'cosine' \(supported: 'linear', 'scaled_linear', 'squaredcos_cap_v2'\)/);
    expect(() => new DDPMScheduler({ beta_schedule: 'sigmoid' })).toThrow(/unknown beta_schedule 'sigmoid'/);
    expect(() => new DDIMScheduler({ prediction_type: 'flow_prediction' })).toThrow(/unknown prediction_type 'flow_prediction'/);
    expect(() => new DDIMScheduler({ clip_sample: 'yes' })).toThrow(/^cflens: DDIMScheduler: clip_sample must be true or false, got 'yes'/);
    expect(() => new DDIMScheduler({ num_train_timesteps: 10.5 })).toThrow(/num_train_timesteps must be an integer ≥ 1/);
    expect(() => new DDIMScheduler({ num_train_timesteps: 10, trained_betas: [0.1, 0.2] })).toThrow(/trained_betas has 2 values but num_train_timesteps is 10/);
    expect(() => new DDPMScheduler({ variance_type: 'fixed' })).toThrow(/unknown variance_type 'fixed'/);
    expect(() => new DPMSolverMultistepScheduler({ solver_order: 4 })).toThrow(/solver_order must be 1, 2 or 3, got 4/);
    expect(() => new DPMSolverMultistepScheduler({ algorithm_type: 'sde-dpmsolver++' })).toThrow(/algorithm_type 'sde-dpmsolver\+\+' .* is not implemented/);
    expect(() => new DPMSolverMultistepScheduler({ prediction_type: 'flow_prediction' })).toThrow(/unknown prediction_type 'flow_prediction'/);
    expect(() => new DPMSolverMultistepScheduler({ prediction_type: 'v_prediction', variance_type: 'learned' })).toThrow(/set variance_type to null/);
  });

  it('maps the aliases diffusers maps', () => {
    // diffusers: algorithm_type 'deis' runs as dpmsolver++ but still fails the final_sigmas_type 'zero' check.
    expect(() => new DPMSolverMultistepScheduler({ algorithm_type: 'deis' })).toThrow(/final_sigmas_type 'zero' is not supported for algorithm_type 'deis'/);
    expect(new DPMSolverMultistepScheduler({ algorithm_type: 'deis', final_sigmas_type: 'sigma_min' }).config.algorithm_type).toBe('dpmsolver++');
    expect(new DPMSolverMultistepScheduler({ solver_type: 'bh2' }).config.solver_type).toBe('midpoint');
    expect(new DDIMInverseScheduler({ set_alpha_to_zero: false }).config.set_alpha_to_one).toBe(false);
  });

  it('trained_betas replace the schedule; keys left undefined take their defaults', () => {
    const betas = Array.from({ length: 4 }, (_, i) => 0.1 * (i + 1));
    const s = new DDIMScheduler({ num_train_timesteps: 4, trained_betas: betas, beta_schedule: undefined });
    expect(Array.from(s.betas)).toEqual(betas.map(Math.fround));
    expect(s.config.beta_schedule).toBe('linear');
  });

  it('schedulerFromConfig builds the class a config names', () => {
    expect(schedulerFromConfig(DPM_FULL).className).toBe('DPMSolverMultistepScheduler');
    expect(schedulerFromConfig(DDIM_FULL).className).toBe('DDIMScheduler');
    expect(schedulerFromConfig(DDIM_FULL, 'DDIMInverseScheduler').className).toBe('DDIMInverseScheduler');
    expect(() => schedulerFromConfig({ ...DDIM_FULL, _class_name: 'PNDMScheduler' })).toThrow(/scheduler class 'PNDMScheduler' is not implemented; supported: DDIMScheduler, /);
  });
});
