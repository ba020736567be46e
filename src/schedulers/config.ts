// Scheduler config keys (diffusers' scheduler_config.json), their defaults and validation.
// Every key is implemented as diffusers implements it or refused: an unknown key, or a key
// diffusers has but cflens does not implement set to anything but its default, is an error that
// names the key and the supported set. Keys starting with '_' (_class_name, _diffusers_version,
// _use_default_values, ...) are diffusers' bookkeeping and are ignored.

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';
export type DDPMVarianceType = 'fixed_small' | 'fixed_small_log' | 'fixed_large' | 'fixed_large_log' | 'learned' | 'learned_range';

/** Keys every scheduler here shares: the noise schedule and how inference timesteps are picked. */
export interface NoiseScheduleConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: BetaSchedule;
  trained_betas: number[] | null;
  rescale_betas_zero_snr: boolean;
  prediction_type: PredictionType;
  timestep_spacing: TimestepSpacing;
  steps_offset: number;
}

/** The x0 post-processing keys of DDIM, DDPM (clip and threshold) and DPM-Solver (threshold). */
export interface ThresholdConfig {
  thresholding: boolean;
  dynamic_thresholding_ratio: number;
  sample_max_value: number;
}

export interface ClipConfig {
  clip_sample: boolean;
  clip_sample_range: number;
}

export interface DDIMConfig extends NoiseScheduleConfig, ThresholdConfig, ClipConfig {
  set_alpha_to_one: boolean;
}

/** DDIMScheduler's config (the name the rest of cflens has always used). */
export type SchedulerConfig = DDIMConfig;

export interface DDIMInverseConfig extends NoiseScheduleConfig, ClipConfig {
  set_alpha_to_one: boolean;
}

export interface DDPMConfig extends NoiseScheduleConfig, ThresholdConfig, ClipConfig {
  variance_type: DDPMVarianceType;
}

export interface DPMSolverConfig extends NoiseScheduleConfig, ThresholdConfig {
  solver_order: number;
  algorithm_type: 'dpmsolver++' | 'dpmsolver';
  solver_type: 'midpoint' | 'heun';
  lower_order_final: boolean;
  euler_at_final: boolean;
  final_sigmas_type: 'zero' | 'sigma_min';
  lambda_min_clipped: number;
  variance_type: 'learned' | 'learned_range' | null;
}

/** A config as read from scheduler_config.json (or written by hand). */
export type SchedulerConfigJson = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Key rules

interface KeyRule {
  default: unknown;
  /** Why the value is invalid, or null when it is fine. */
  problem: (key: string, v: unknown) => string | null;
}

const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : Number.isNaN(v) ? 'NaN' : JSON.stringify(v) ?? String(v));

const bool = (d: boolean): KeyRule => ({ default: d, problem: (k, v) => (typeof v === 'boolean' ? null : `${k} must be true or false, got ${show(v)}`) });

const num = (d: number, ok: (x: number) => boolean = Number.isFinite, what = 'a finite number'): KeyRule => ({
  default: d,
  problem: (k, v) => (typeof v === 'number' && ok(v) ? null : `${k} must be ${what}, got ${show(v)}`),
});

const int = (d: number, min: number): KeyRule => num(d, (x) => Number.isInteger(x) && x >= min, `an integer ≥ ${min}`);

const oneOf = <T extends string | null>(d: T, values: readonly T[]): KeyRule => ({
  default: d,
  problem: (k, v) => (values.includes(v as T) ? null : `unknown ${k} ${show(v)} (supported: ${values.map(show).join(', ')})`),
});

const betas: KeyRule = {
  default: null,
  problem: (k, v) => (v === null || (Array.isArray(v) && v.length > 0 && v.every((b) => typeof b === 'number' && Number.isFinite(b)))
    ? null
    : `${k} must be null or a list of finite numbers, got ${show(v)}`),
};

const noiseScheduleKeys = (spacing: readonly TimestepSpacing[], spacingDefault: TimestepSpacing): Record<keyof NoiseScheduleConfig, KeyRule> => ({
  num_train_timesteps: int(1000, 1),
  beta_start: num(0.0001),
  beta_end: num(0.02),
  beta_schedule: oneOf<BetaSchedule>('linear', ['linear', 'scaled_linear', 'squaredcos_cap_v2']),
  trained_betas: betas,
  rescale_betas_zero_snr: bool(false),
  prediction_type: oneOf<PredictionType>('epsilon', ['epsilon', 'v_prediction', 'sample']),
  timestep_spacing: oneOf<TimestepSpacing>(spacingDefault, spacing),
  steps_offset: int(0, 0),
});

const ALL_SPACINGS: readonly TimestepSpacing[] = ['leading', 'trailing', 'linspace'];

const thresholdKeys: Record<keyof ThresholdConfig, KeyRule> = {
  thresholding: bool(false),
  dynamic_thresholding_ratio: num(0.995, (x) => Number.isFinite(x) && x >= 0 && x <= 1, 'a number in [0, 1]'),
  sample_max_value: num(1.0),
};

const clipKeys: Record<keyof ClipConfig, KeyRule> = {
  clip_sample: bool(true),
  clip_sample_range: num(1.0, (x) => Number.isFinite(x) && x >= 0, 'a finite number ≥ 0'),
};

export interface SchedulerSpec {
  name: string;
  keys: Record<string, KeyRule>;
  /** Keys diffusers has that cflens does not implement: accepted only at this (default) value. */
  defaultOnly: Record<string, unknown>;
}

export const DDIM_SPEC: SchedulerSpec = {
  name: 'DDIMScheduler',
  keys: { ...noiseScheduleKeys(ALL_SPACINGS, 'leading'), ...thresholdKeys, ...clipKeys, set_alpha_to_one: bool(true) },
  defaultOnly: {},
};

export const DDIM_INVERSE_SPEC: SchedulerSpec = {
  name: 'DDIMInverseScheduler',
  keys: { ...noiseScheduleKeys(['leading', 'trailing'], 'leading'), ...clipKeys, set_alpha_to_one: bool(true) },
  // DDIMScheduler's keys, as a DDIM config handed to the inverse scheduler carries them: diffusers'
  // inverse scheduler has no thresholding, so only the values that switch it off are accepted.
  defaultOnly: { thresholding: false, dynamic_thresholding_ratio: 0.995, sample_max_value: 1.0 },
};

export const DDPM_SPEC: SchedulerSpec = {
  name: 'DDPMScheduler',
  keys: {
    ...noiseScheduleKeys(ALL_SPACINGS, 'leading'), ...thresholdKeys, ...clipKeys,
    variance_type: oneOf<DDPMVarianceType>('fixed_small', ['fixed_small', 'fixed_small_log', 'fixed_large', 'fixed_large_log', 'learned', 'learned_range']),
  },
  defaultOnly: {},
};

export const DPM_SOLVER_SPEC: SchedulerSpec = {
  name: 'DPMSolverMultistepScheduler',
  keys: {
    ...noiseScheduleKeys(ALL_SPACINGS, 'linspace'), ...thresholdKeys,
    solver_order: num(2, (x) => x === 1 || x === 2 || x === 3, '1, 2 or 3'),
    algorithm_type: oneOf('dpmsolver++', ['dpmsolver++', 'dpmsolver', 'deis']),
    solver_type: oneOf('midpoint', ['midpoint', 'heun', 'logrho', 'bh1', 'bh2']),
    lower_order_final: bool(true),
    euler_at_final: bool(false),
    final_sigmas_type: oneOf('zero', ['zero', 'sigma_min']),
    lambda_min_clipped: num(-Infinity, (x) => !Number.isNaN(x), 'a number (-Infinity for no clipping)'),
    variance_type: oneOf<string | null>(null, [null, 'learned', 'learned_range']),
  },
  defaultOnly: {
    use_karras_sigmas: false,
    use_exponential_sigmas: false,
    use_beta_sigmas: false,
    use_lu_lambdas: false,
    use_flow_sigmas: false,
    flow_shift: 1.0,
    use_dynamic_shifting: false,
    time_shift_type: 'exponential',
  },
};

// ---------------------------------------------------------------------------------------------
// Resolution

const sameValue = (a: unknown, b: unknown): boolean => a === b || (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b));

/** Validates every key of `json` against `spec` and fills in the defaults; throws on the first problem. */
export function resolveKeys<C>(spec: SchedulerSpec, json: SchedulerConfigJson): C {
  const out: Record<string, unknown> = {};
  for (const [k, rule] of Object.entries(spec.keys)) out[k] = rule.default;
  const implemented = Object.keys(spec.keys);
  for (const [k, v] of Object.entries(json)) {
    if (k.startsWith('_') || v === undefined) continue;
    const rule = spec.keys[k];
    if (rule) {
      const problem = rule.problem(k, v);
      if (problem) throw new Error(`cflens: ${spec.name}: ${problem}.`);
      out[k] = v;
    } else if (k in spec.defaultOnly) {
      const d = spec.defaultOnly[k];
      if (!sameValue(v, d)) {
        throw new Error(
          `cflens: ${spec.name}: ${k} = ${show(v)} is not implemented (only its default ${show(d)} is accepted); ` +
          `the keys ${spec.name} implements are ${implemented.join(', ')}. Remove '${k}' or set it to ${show(d)}.`,
        );
      }
    } else {
      const tolerated = Object.keys(spec.defaultOnly);
      throw new Error(
        `cflens: ${spec.name}: unknown config key '${k}'; the keys it implements are ${implemented.join(', ')}` +
        `${tolerated.length ? ` (accepted at their defaults only: ${tolerated.join(', ')})` : ''}, ` +
        `and keys starting with '_' are ignored. Remove '${k}' from the config.`,
      );
    }
  }
  const c = out as unknown as NoiseScheduleConfig;
  if (c.trained_betas && c.trained_betas.length !== c.num_train_timesteps) {
    throw new Error(
      `cflens: ${spec.name}: trained_betas has ${c.trained_betas.length} values but num_train_timesteps is ${c.num_train_timesteps}; ` +
      'give one beta per training timestep.',
    );
  }
  return out as C;
}

export function resolveDDIMConfig(json: SchedulerConfigJson = {}): DDIMConfig {
  return resolveKeys<DDIMConfig>(DDIM_SPEC, json);
}

export function resolveDDPMConfig(json: SchedulerConfigJson = {}): DDPMConfig {
  return resolveKeys<DDPMConfig>(DDPM_SPEC, json);
}

/** diffusers' deprecated `set_alpha_to_zero` sets set_alpha_to_one to its value. */
export function resolveDDIMInverseConfig(json: SchedulerConfigJson = {}): DDIMInverseConfig {
  const { set_alpha_to_zero: legacy, ...rest } = json;
  if (legacy !== undefined && legacy !== null) {
    if (typeof legacy !== 'boolean') throw new Error(`cflens: DDIMInverseScheduler: set_alpha_to_zero must be true or false, got ${show(legacy)}.`);
    rest.set_alpha_to_one = legacy;
  }
  return resolveKeys<DDIMInverseConfig>(DDIM_INVERSE_SPEC, rest);
}

/**
 * DPM-Solver's config. As diffusers: algorithm_type 'deis' runs as 'dpmsolver++' and solver_type
 * 'logrho'/'bh1'/'bh2' as 'midpoint'; final_sigmas_type 'zero' needs dpmsolver++ (checked against the
 * algorithm_type as given, so 'deis' needs 'sigma_min' too).
 */
export function resolveDPMSolverConfig(json: SchedulerConfigJson = {}): DPMSolverConfig {
  const algorithm = json.algorithm_type;
  if (algorithm === 'sde-dpmsolver' || algorithm === 'sde-dpmsolver++') {
    throw new Error(
      `cflens: DPMSolverMultistepScheduler: algorithm_type '${algorithm}' (the stochastic variants) is not implemented; use 'dpmsolver++' or 'dpmsolver'.`,
    );
  }
  const c = resolveKeys<Omit<DPMSolverConfig, 'algorithm_type' | 'solver_type'> & { algorithm_type: string; solver_type: string }>(DPM_SOLVER_SPEC, json);
  if (c.prediction_type !== 'epsilon' && c.variance_type !== null) {
    throw new Error(
      `cflens: DPMSolverMultistepScheduler: variance_type '${c.variance_type}' with prediction_type '${c.prediction_type}': ` +
      "diffusers strips the learned-variance channels only for 'epsilon'; set variance_type to null.",
    );
  }
  if (c.algorithm_type !== 'dpmsolver++' && c.final_sigmas_type === 'zero') {
    throw new Error(
      `cflens: DPMSolverMultistepScheduler: final_sigmas_type 'zero' is not supported for algorithm_type '${c.algorithm_type}' ` +
      "(diffusers refuses it too: its last step would multiply by an infinite e^h); set final_sigmas_type to 'sigma_min'.",
    );
  }
  if (c.algorithm_type === 'deis') c.algorithm_type = 'dpmsolver++';
  if (c.solver_type !== 'midpoint' && c.solver_type !== 'heun') c.solver_type = 'midpoint';
  return c as DPMSolverConfig;
}

export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = Object.freeze(resolveDDIMConfig()) as SchedulerConfig;
