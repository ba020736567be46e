import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureWritableDir, writeFileAtomic, type WriteFs } from '../../../src/io/node/atomic-write.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'cflens-atomic-'));

/** Node's fs, except that writes fail with ENOSPC once `budget` bytes have been written. */
function fullDisk(budget: number): WriteFs {
  return {
    open: async (p, flags, mode) => {
      const h = await fs.open(p, flags, mode);
      return {
        write: async (buf: Uint8Array, off?: number | null, len?: number | null) => {
          const n = Math.min(len ?? buf.byteLength, budget);
          if (n <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
          budget -= n;
          return h.write(buf, off ?? 0, n);
        },
        sync: () => h.sync(),
        close: () => h.close(),
      } as Awaited<ReturnType<WriteFs['open']>>;
    },
    rename: fs.rename,
    unlink: fs.unlink,
  };
}

describe('writeFileAtomic', () => {
  it('writes strings, bytes and chunk streams, replacing the old file', async () => {
    const dir = fresh();
    const p = join(dir, 'a.txt');
    await writeFileAtomic(p, 'old');
    expect(readFileSync(p, 'utf8')).toBe('old');
    await writeFileAtomic(p, (function* () { yield new TextEncoder().encode('ne'); yield new TextEncoder().encode('w'); })());
    expect(readFileSync(p, 'utf8')).toBe('new');
    await writeFileAtomic(p, Uint8Array.from([1, 2, 3]));
    expect([...readFileSync(p)]).toEqual([1, 2, 3]);
    expect(readdirSync(dir)).toEqual(['a.txt']);
  });

  it('a full disk mid-write leaves the old file whole and no temporary file', async () => {
    const dir = fresh();
    const p = join(dir, 'model.safetensors');
    writeFileSync(p, 'the original weights');
    const big = new Uint8Array(1 << 20).fill(7);
    await expect(writeFileAtomic(p, big, { fs: fullDisk(1000) })).rejects.toThrow(/could not write .*model\.safetensors: the disk is full; the previous file is unchanged/);
    expect(readFileSync(p, 'utf8')).toBe('the original weights');
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('kill -9 while writing leaves the old file whole', async () => {
    const dir = fresh();
    const p = join(dir, 'report.html');
    writeFileSync(p, '<p>old report</p>');
    // A child writes an endless stream of chunks; it is killed mid-write.
    const script = join(dir, 'writer.mts');
    writeFileSync(script, `
      import { writeFileAtomic } from ${JSON.stringify(new URL('../../../src/io/node/atomic-write.ts', import.meta.url).pathname)};
      async function* endless() { for (;;) { yield new Uint8Array(65536).fill(65); await new Promise((r) => setTimeout(r, 5)); } }
      setTimeout(() => console.log('writing'), 300);
      await writeFileAtomic(${JSON.stringify(p)}, endless());`);
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.on('data', () => resolve()));
    expect(readdirSync(dir).some((f) => f.includes('.tmp-'))).toBe(true);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    expect(readFileSync(p, 'utf8')).toBe('<p>old report</p>');
  }, 20_000);

  it('a folder that cannot be created or written fails at once, naming it', async () => {
    await expect(ensureWritableDir('/proc/cflens-nope/deeper')).rejects.toThrow(/output folder \/proc\/cflens-nope\/deeper is not writable/);
    const dir = join(fresh(), 'a', 'b');
    await ensureWritableDir(dir);
    expect(existsSync(dir)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
    const file = join(fresh(), 'f');
    writeFileSync(file, 'x');
    await expect(ensureWritableDir(join(file, 'sub'))).rejects.toThrow(/is a file, not a folder/);
  });
});
