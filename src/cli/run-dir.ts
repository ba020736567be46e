// Each run writes into a folder of its own, <out>/runs/<id>/, and only when it has finished is the
// <out>/latest link switched to it (one rename, atomic): two runs into one --out never mix their files,
// and a run killed half-way leaves the previous report intact.
import { readdir, readFile, readlink, rename, symlink, unlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ensureWritableDir, writeFileAtomic } from '../io/node/atomic-write.js';

export interface RunDir {
  id: string;
  path: string;
  /** Writes one file of the run (atomically). */
  write(name: string, body: string | Uint8Array): Promise<void>;
  /** Points <out>/latest at this run; returns the path users open. */
  publish(): Promise<string>;
}

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

const safeLabel = (label: string) => label.replace(/[^\w.-]+/g, '_');

/** Creates <out>/runs/<id> (checked writable before any work) for a run named `label`. */
export async function startRun(out: string, label: string, now = new Date()): Promise<RunDir> {
  return openRun(out, `${stamp(now)}-${safeLabel(label)}-${process.pid}`);
}

/**
 * The newest earlier run named `label` whose `file` (written by that run) satisfies `accept`: the run a
 * --resume continues, in its own folder. Null when there is none.
 */
export async function findRun(
  out: string, label: string, file: string, accept: (body: string, path: string) => boolean | Promise<boolean>,
): Promise<RunDir | null> {
  const ids = await readdir(join(out, 'runs')).catch(() => [] as string[]);
  const mine = ids.filter((id) => id.slice(16).replace(/-\d+$/, '') === safeLabel(label)).sort().reverse();
  for (const id of mine) {
    const body = await readFile(join(out, 'runs', id, file), 'utf8').catch(() => null);
    if (body !== null && (await accept(body, join(out, 'runs', id)))) return openRun(out, id);
  }
  return null;
}

async function openRun(out: string, id: string): Promise<RunDir> {
  const path = join(out, 'runs', id);
  await ensureWritableDir(path);
  return {
    id,
    path,
    write: (name, body) => writeFileAtomic(join(path, name), body),
    async publish() {
      const link = join(out, 'latest');
      const tmp = join(out, `.latest-${id}-${Math.random().toString(36).slice(2)}`);
      await unlink(tmp).catch(() => {});
      await symlink(relative(out, path), tmp);
      await rename(tmp, link);
      return link;
    },
  };
}

/** Where <out>/latest points, or null. */
export async function latestRun(out: string): Promise<string | null> {
  return readlink(join(out, 'latest')).catch(() => null);
}
