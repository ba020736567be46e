// Explicit timestep lists (set_timesteps(timesteps=[...])) and stepping along them.

/**
 * Validates a custom list as diffusers' DDPMScheduler does (strictly descending, first below
 * num_train_timesteps); `inRange` also refuses negative timesteps.
 */
export function customTimesteps(who: string, list: readonly number[], numTrain: number, { inRange = false } = {}): number[] {
  if (!Array.isArray(list) || list.length === 0) throw new Error(`cflens: ${who}: custom timesteps must be a non-empty list of integers`);
  const bad = list.find((t) => !Number.isInteger(t));
  if (bad !== undefined) throw new Error(`cflens: ${who}: custom timesteps must be integers, got ${bad}`);
  for (let i = 1; i < list.length; i++) {
    if (list[i] >= list[i - 1]) throw new Error(`cflens: ${who}: custom timesteps must be in strictly descending order, got ${list[i - 1]} then ${list[i]}`);
  }
  if (list[0] >= numTrain) throw new Error(`cflens: ${who}: custom timesteps must start below num_train_timesteps (${numTrain}), got ${list[0]}`);
  if (inRange && list[list.length - 1] < 0) throw new Error(`cflens: ${who}: custom timesteps must be ≥ 0, got ${list[list.length - 1]}`);
  return [...list];
}

/** The timestep after t in the list (−1 after the last), as diffusers' DDPM previous_timestep. */
export function nextInList(who: string, list: readonly number[], t: number): number {
  const i = list.indexOf(t);
  if (i < 0) throw new Error(`cflens: ${who}: timestep ${t} is not one of the scheduler's timesteps (${list.length} set by setTimesteps)`);
  return i === list.length - 1 ? -1 : list[i + 1];
}
