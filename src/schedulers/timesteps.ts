// Inference timesteps exactly as diffusers picks them (numpy float64 arithmetic, quirks included:
// trailing spacing yields n + 1 timesteps ending in −1 for 62 step counts out of 1000; leading with
// steps_offset 1 and 1000 steps starts at 1000). Whether a timestep can then be stepped is the
// scheduler's business.

import type { TimestepSpacing } from './config.js';
import { arange, linspace, roundHalfEven } from './numpy.js';

export interface SpacingConfig {
  num_train_timesteps: number;
  timestep_spacing: TimestepSpacing;
  steps_offset: number;
}

function checkCount(who: string, steps: number, max = Infinity): void {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`cflens: ${who}: steps must be an integer ≥ 1, got ${steps}`);
  if (steps > max) {
    throw new Error(
      `cflens: ${who}: steps must be an integer in [1, ${max}] (num_train_timesteps), got ${steps}; ` +
      'diffusers refuses more inference steps than training timesteps',
    );
  }
}

const descendingRounded = (xs: number[]): number[] => xs.map(roundHalfEven).reverse();

/** DDIMScheduler / DDPMScheduler.set_timesteps(steps): descending. */
export function inferenceTimesteps(c: SpacingConfig, steps: number, who = 'scheduler'): number[] {
  const n = c.num_train_timesteps;
  checkCount(who, steps, n);
  switch (c.timestep_spacing) {
    case 'linspace':
      return descendingRounded(linspace(0, n - 1, steps));
    case 'leading': {
      const ratio = Math.floor(n / steps);
      return Array.from({ length: steps }, (_, i) => (steps - 1 - i) * ratio + c.steps_offset);
    }
    case 'trailing':
      return arange(n, 0, -n / steps).map((t) => roundHalfEven(t) - 1);
    default:
      throw new Error(`cflens: ${who}: unknown timestep_spacing '${c.timestep_spacing as string}' (supported: leading, trailing, linspace)`);
  }
}

/** DDIMInverseScheduler.set_timesteps(steps): ascending; leading or trailing only. */
export function inverseTimesteps(c: SpacingConfig, steps: number): number[] {
  const who = 'DDIMInverseScheduler';
  const n = c.num_train_timesteps;
  checkCount(who, steps, n);
  if (c.timestep_spacing === 'leading') {
    const ratio = Math.floor(n / steps);
    return Array.from({ length: steps }, (_, i) => i * ratio + c.steps_offset);
  }
  if (c.timestep_spacing === 'trailing') return arange(n, 0, -n / steps).reverse().map((t) => roundHalfEven(t) - 1);
  throw new Error(`cflens: ${who}: timestep_spacing '${c.timestep_spacing}' is not supported (leading or trailing)`);
}

/**
 * DPMSolverMultistepScheduler.set_timesteps(steps): steps + 1 points from `lastTimestep` (the
 * training length less the λ-clipped tail) down to 0, the 0 dropped. No upper bound on steps.
 */
export function dpmSolverTimesteps(c: SpacingConfig, steps: number, lastTimestep: number): number[] {
  const who = 'DPMSolverMultistepScheduler';
  checkCount(who, steps);
  switch (c.timestep_spacing) {
    case 'linspace':
      return descendingRounded(linspace(0, lastTimestep - 1, steps + 1)).slice(0, -1);
    case 'leading': {
      const ratio = Math.floor(lastTimestep / (steps + 1));
      return Array.from({ length: steps }, (_, i) => (steps - i) * ratio + c.steps_offset);
    }
    case 'trailing':
      return arange(lastTimestep, 0, -c.num_train_timesteps / steps).map((t) => roundHalfEven(t) - 1);
    default:
      throw new Error(`cflens: ${who}: unknown timestep_spacing '${c.timestep_spacing as string}' (supported: leading, trailing, linspace)`);
  }
}
