// The files a trained task ships (browser-safe: bytes by path; train-defaults writes them to disk).
import { folderOf, type DefaultTask, type Opener, type ShippedFiles } from './tasks.js';
import type { TrainResult } from './trainer.js';

/**
 * A trained task's shipped files by path under the output folder: <folder>/config.json, the f16
 * <folder>/model.safetensors (EMA weights where the task keeps them), the task's own files, then
 * whatever its exportFiles hook adds or replaces (`open` finds the folders of earlier tasks).
 */
export async function shippedFiles(task: DefaultTask, r: TrainResult, open: Opener): Promise<ShippedFiles> {
  const folder = folderOf(task);
  const built = task.build();
  built.model.dispose();
  const files: ShippedFiles = { [`${folder}/config.json`]: `${JSON.stringify(built.config, null, 1)}\n` };
  for (const [name, text] of Object.entries(built.files ?? {})) files[`${folder}/${name}`] = text;
  files[`${folder}/model.safetensors`] = await r.exportWeights('f16', { format: 'pt', cflens_task: task.name });
  return { ...files, ...(await task.exportFiles?.(files, open)) };
}
