// What DDIM, its inverse and DDPM share as classes: the config, betas and ᾱ from a NoiseSchedule, the
// timestep list and set_timesteps from a step count or a custom descending list.
import type { NoiseScheduleConfig } from './config.js';
import { customTimesteps } from './custom-timesteps.js';
import { NoiseSchedule } from './noise-schedule.js';
import type { TimestepsRequest } from './scheduler.js';
import { inferenceTimesteps } from './timesteps.js';

export abstract class ScheduledBase<C extends NoiseScheduleConfig> {
  readonly betas: Float32Array;
  readonly alphasCumprod: Float32Array;
  timesteps: number[] = [];
  numInferenceSteps = 0;
  /** Set by setTimesteps({ timesteps }): each step goes to the next listed timestep. */
  protected custom = false;
  protected readonly schedule: NoiseSchedule;

  protected constructor(readonly className: string, readonly config: C) {
    this.schedule = new NoiseSchedule(className, config);
    this.betas = this.schedule.betas;
    this.alphasCumprod = this.schedule.alphasCumprod;
  }

  /**
   * diffusers' set_timesteps: a step count spaced by the config, or `{ timesteps }`, a strictly
   * descending list (`inRange`: every entry below num_train_timesteps). `customSteps` is what
   * numInferenceSteps becomes for a custom list.
   */
  protected timestepsFrom(request: TimestepsRequest, o: { inRange?: boolean; customSteps: (list: number[]) => number }): number[] {
    if (typeof request === 'number') {
      this.timesteps = inferenceTimesteps(this.config, request, this.className);
      this.numInferenceSteps = request;
      this.custom = false;
    } else {
      this.timesteps = customTimesteps(this.className, request.timesteps, this.config.num_train_timesteps, { inRange: o.inRange });
      this.numInferenceSteps = o.customSteps(this.timesteps);
      this.custom = true;
    }
    return this.timesteps;
  }
}
