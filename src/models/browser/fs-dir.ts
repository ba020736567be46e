// The browser side of the '#model-files' seam (package.json "imports"): no file system in a browser.
import type { WeightsDir } from '../weights-dir.js';

export function fsDir(path: string): WeightsDir {
  throw new Error(`cflens: ${path}: a folder path needs Node's file system; in a browser pass a WeightsDir (memoryDir of the uploaded files)`);
}
