// Noise schedules as diffusers computes them (float32 arithmetic, as torch does), on the CPU.

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';

export interface SchedulerConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: BetaSchedule;
  trained_betas?: number[] | null;
  clip_sample: boolean;
  clip_sample_range: number;
  set_alpha_to_one: boolean;
  steps_offset: number;
  prediction_type: PredictionType;
  timestep_spacing: TimestepSpacing;
  variance_type?: string;
}

export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  clip_sample: true,
  clip_sample_range: 1,
  set_alpha_to_one: true,
  steps_offset: 0,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  variance_type: 'fixed_small',
};

const f = Math.fround;

/** torch.linspace(start, end, n, dtype=float32): computed in float32 from both ends, as torch does. */
function linspace32(start: number, end: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (n === 1) {
    out[0] = start;
    return out;
  }
  const step = f((end - start) / (n - 1));
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < half ? f(start + f(step * i)) : f(end - f(step * (n - 1 - i)));
  return out;
}

/** Betas of the schedule (float32). */
export function makeBetas(c: SchedulerConfig): Float32Array {
  const n = c.num_train_timesteps;
  if (c.trained_betas) return Float32Array.from(c.trained_betas);
  switch (c.beta_schedule) {
    case 'linear':
      return linspace32(c.beta_start, c.beta_end, n);
    case 'scaled_linear':
      return linspace32(Math.sqrt(c.beta_start), Math.sqrt(c.beta_end), n).map((b) => f(b * b));
    case 'squaredcos_cap_v2': {
      const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999);
      return out;
    }
    default:
      throw new Error(`cflens: scheduler: unknown beta_schedule '${c.beta_schedule as string}' (linear, scaled_linear, squaredcos_cap_v2)`);
  }
}

/** Cumulative products of 1 - beta, in float32 like torch.cumprod. */
export function alphasCumprod(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc = f(acc * f(1 - betas[i]));
    out[i] = acc;
  }
  return out;
}

/** The inference timesteps diffusers picks for `steps` steps, descending. */
export function inferenceTimesteps(c: SchedulerConfig, steps: number): number[] {
  const n = c.num_train_timesteps;
  if (!Number.isInteger(steps) || steps < 1 || steps > n) throw new Error(`cflens: scheduler: steps must be an integer in [1, ${n}], got ${steps}`);
  let ts: number[];
  switch (c.timestep_spacing) {
    case 'leading': {
      const ratio = Math.floor(n / steps);
      ts = Array.from({ length: steps }, (_, i) => Math.round(i * ratio) + c.steps_offset).reverse();
      break;
    }
    case 'trailing': {
      const ratio = n / steps;
      ts = [];
      for (let k = 0; n - k * ratio > 0; k++) ts.push(roundHalfEven(n - k * ratio) - 1);
      break;
    }
    case 'linspace':
      ts = Array.from({ length: steps }, (_, i) => roundHalfEven((i * (n - 1)) / (steps - 1 || 1))).reverse();
      break;
    default:
      throw new Error(`cflens: scheduler: unknown timestep_spacing '${c.timestep_spacing as string}'`);
  }
  return ts;
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function resolveConfig(partial: Partial<SchedulerConfig> & Record<string, unknown>): SchedulerConfig {
  const known = Object.keys(DEFAULT_SCHEDULER_CONFIG);
  const picked = Object.fromEntries(Object.entries(partial).filter(([k, v]) => (known.includes(k) || k === 'trained_betas') && v !== undefined));
  return { ...DEFAULT_SCHEDULER_CONFIG, ...picked } as SchedulerConfig;
}
