export type { Scheduler, StepOptions, StepResult, TimestepsRequest } from './scheduler.js';
export {
  DEFAULT_SCHEDULER_CONFIG, resolveDDIMConfig, resolveDDIMInverseConfig, resolveDDPMConfig, resolveDPMSolverConfig,
  type SchedulerConfig, type SchedulerConfigJson, type DDIMConfig, type DDIMInverseConfig, type DDPMConfig, type DPMSolverConfig,
  type BetaSchedule, type TimestepSpacing, type PredictionType, type DDPMVarianceType,
} from './config.js';
export { makeBetas, alphasCumprod, rescaleZeroTerminalSnr } from './betas.js';
export { inferenceTimesteps, inverseTimesteps, dpmSolverTimesteps } from './timesteps.js';
export { splitPrediction } from './prediction.js';
export { DDIMScheduler, type DDIMStepOptions } from './ddim.js';
export { DDIMInverseScheduler } from './ddim-inverse.js';
export { DDPMScheduler } from './ddpm.js';
export { DPMSolverMultistepScheduler } from './dpm-solver.js';
export { schedulerFromConfig, type SchedulerClassName } from './from-config.js';
