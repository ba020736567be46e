import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileSource } from '../../io/node/file-source.js';
import type { WeightsDir } from '../weights-dir.js';

/** A WeightsDir over a folder on disk; weights are read by byte ranges, never whole. */
export function fsDir(path: string): WeightsDir {
  return {
    name: path,
    list: () => readdir(path),
    readText: (f) => readFile(join(path, f), 'utf8'),
    open: async (f) => fileSource(join(path, f)),
    subdir: (sub) => fsDir(join(path, sub)),
  };
}
