import type { SchedulerConfigJson } from './config.js';
import { DDIMInverseScheduler } from './ddim-inverse.js';
import { DDIMScheduler } from './ddim.js';
import { DDPMScheduler } from './ddpm.js';
import { DPMSolverMultistepScheduler } from './dpm-solver.js';
import type { Scheduler } from './scheduler.js';

const CLASSES = {
  DDIMScheduler,
  DDIMInverseScheduler,
  DDPMScheduler,
  DPMSolverMultistepScheduler,
} as const;

export type SchedulerClassName = keyof typeof CLASSES;

/** The scheduler a scheduler_config.json names in `_class_name` (or `className`, which wins). */
export function schedulerFromConfig(json: SchedulerConfigJson, className?: SchedulerClassName): Scheduler {
  const name = className ?? json._class_name;
  const cls = typeof name === 'string' ? CLASSES[name as SchedulerClassName] : undefined;
  if (!cls) {
    throw new Error(
      `cflens: schedulerFromConfig: ${name === undefined ? 'the config has no _class_name' : `scheduler class '${String(name)}' is not implemented`}; ` +
      `supported: ${Object.keys(CLASSES).join(', ')} (pass one as className)`,
    );
  }
  return new cls(json);
}
