import type { Module } from '../nn/module.js';
import type { LoadOptions } from './pretrained.js';
import type { WeightsDir } from './weights-dir.js';

/** fromPretrainedDir, imported on first use so constructing a model never loads the file readers. */
export async function loadPretrained<M extends Module>(
  dir: string | WeightsDir, build: (config: Record<string, unknown>) => M, opts: LoadOptions & { weights?: string; configFile?: string },
): Promise<M> {
  const { fromPretrainedDir } = await import('./pretrained.js');
  return fromPretrainedDir(dir, build, opts);
}
