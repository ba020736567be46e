import type { DefaultTask } from './tasks.js';

/** Linear warm-up over the first 5% of steps, then cosine decay to 10%. */
export function learningRate(base: number, step: number, steps: number): number {
  const warm = Math.max(1, Math.round(0.05 * steps));
  if (step < warm) return (base * (step + 1)) / warm;
  const p = (step - warm) / Math.max(1, steps - warm);
  return base * (0.1 + 0.45 * (1 + Math.cos(Math.PI * Math.min(1, p))));
}

/** The learning rate of a task's step: its own schedule where it has one, else the one above. */
export function taskLearningRate(task: DefaultTask, step: number, steps: number): number {
  return task.learningRate ? task.learningRate(step, steps) : learningRate(task.lr, step, steps);
}
