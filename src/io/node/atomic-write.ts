// Every file the project writes goes through here: the bytes go to a temporary file beside the target,
// are flushed to disk, and only then replace the target by a rename. A kill, a full disk or an I/O
// error at any point leaves either the old file or the new one, never a truncated mix.
import * as fs from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The file-system calls the writer uses; tests pass one that fails on purpose. */
export interface WriteFs {
  open(path: string, flags: string, mode?: number): Promise<Pick<fs.FileHandle, 'write' | 'sync' | 'close'>>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
}

const nodeFs: WriteFs = { open: (p, f, m) => fs.open(p, f, m), rename: fs.rename, unlink: fs.unlink };

/** A source of bytes written in order: one buffer, or chunks produced one at a time (streaming). */
export type WriteBody = string | Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

let counter = 0;

async function* chunksOf(body: WriteBody): AsyncIterable<Uint8Array> {
  if (typeof body === 'string') yield new TextEncoder().encode(body);
  else if (body instanceof Uint8Array) yield body;
  else yield* body as AsyncIterable<Uint8Array>;
}

/**
 * Writes `body` to `path` atomically (temporary file in the same folder, fsync, rename, then fsync of
 * the folder so the rename itself survives a crash). On failure the temporary file is removed and the
 * error names the file and what happened; an existing `path` is untouched.
 */
export async function writeFileAtomic(path: string, body: WriteBody, o: { fs?: WriteFs; mode?: number } = {}): Promise<void> {
  const f = o.fs ?? nodeFs;
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${++counter}`);
  let handle: Awaited<ReturnType<WriteFs['open']>> | null = null;
  try {
    handle = await f.open(tmp, 'wx', o.mode ?? 0o644);
    for await (const chunk of chunksOf(body)) {
      let done = 0;
      while (done < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, done, chunk.byteLength - done);
        if (bytesWritten <= 0) throw new Error('the disk accepted no more bytes');
        done += bytesWritten;
      }
    }
    await handle.sync();
    await handle.close();
    handle = null;
    await f.rename(tmp, path);
  } catch (e) {
    await handle?.close().catch(() => {});
    await f.unlink(tmp).catch(() => {});
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOSPC'
      ? 'the disk is full'
      : err.code === 'EACCES' || err.code === 'EPERM'
        ? 'permission denied'
        : err.code === 'EROFS' ? 'the file system is read-only' : err.message;
    throw new Error(`cflens: could not write ${path}: ${why}; ${await existsNote(path)}`, { cause: e });
  }
  await syncDir(dirname(path));
}

async function existsNote(path: string): Promise<string> {
  try {
    await fs.access(path);
    return 'the previous file is unchanged';
  } catch {
    return 'nothing was written';
  }
}

async function syncDir(dir: string): Promise<void> {
  // Best effort: some file systems do not allow fsync on a directory.
  const h = await fs.open(dir, 'r').catch(() => null);
  await h?.sync().catch(() => {});
  await h?.close().catch(() => {});
}

/**
 * Makes sure `dir` exists (creating missing parents) and that a file can be written in it, before any
 * long computation: a bad --out fails in milliseconds with a message naming it, not after the work.
 */
export async function ensureWritableDir(dir: string): Promise<void> {
  try {
    await mkdirBounded(dir);
    await writeFileAtomic(join(dir, '.cflens-write-test'), 'ok');
    await fs.unlink(join(dir, '.cflens-write-test'));
  } catch (e) {
    const msg = (e as Error).message.replace(/^cflens: /, '');
    throw new Error(`cflens: the output folder ${dir} is not writable (${msg}); choose another with --out`, { cause: e });
  }
}

/**
 * mkdir -p without fs.mkdir's recursive mode, which never returns for some paths under /proc on
 * Linux: each missing component is created in turn, and a path that keeps not existing after its
 * creation is an error.
 */
async function mkdirBounded(dir: string): Promise<void> {
  const missing: string[] = [];
  let d = dir;
  for (let i = 0; i < 256; i++) {
    const st = await fs.stat(d).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e.code === 'ENOTDIR' ? new Error(`a part of ${d} is a file, not a folder`) : e;
    });
    if (st) {
      if (!st.isDirectory()) throw new Error(`${d} is not a folder`);
      break;
    }
    missing.unshift(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing) {
    await fs.mkdir(m).catch((e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? undefined : Promise.reject(e)));
    const st = await fs.stat(m).catch(() => null);
    if (!st?.isDirectory()) throw new Error(`${m} could not be created`);
  }
}
