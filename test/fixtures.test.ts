import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('./fixtures/', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe('test fixtures', () => {
  it('are byte-identical copies of ../shared/fixtures (checksums recorded by scripts/copy-fixtures.sh)', () => {
    const sums = new Map(
      readFileSync(join(root, 'SHA256SUMS'), 'utf8').trim().split('\n').map((l) => {
        const [hash, name] = l.split(/\s+/);
        return [name.replace(/^\.\//, ''), hash] as const;
      }),
    );
    const present = files(root).map((p) => relative(root, p)).filter((p) => p !== 'SHA256SUMS');
    expect(present.length).toBeGreaterThan(0);
    for (const p of present) {
      expect(sums.has(p), `${p} has no recorded checksum`).toBe(true);
      const h = createHash('sha256').update(readFileSync(join(root, p))).digest('hex');
      expect(h, p).toBe(sums.get(p));
    }
  });
});
