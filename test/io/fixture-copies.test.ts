import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixture, fixturesDir, IO_FIXTURES, sharedFixturesDir } from './io-fixtures.js';

const sums = (path: string) => {
  if (!existsSync(path)) throw new Error(`${path} not found: the I/O fixtures are checked against it`);
  return new Map(readFileSync(path, 'utf8').trim().split('\n').map((l) => {
    const [hash, name] = l.split(/\s+/);
    return [name.replace(/^\.\//, ''), hash] as const;
  }));
};
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('I/O fixtures', () => {
  const local = sums(`${fixturesDir}SHA256SUMS`);
  const shared = sums(`${sharedFixturesDir}SHA256SUMS`);
  it.each(IO_FIXTURES)('%s is present and byte-identical to ../shared/fixtures', (rel) => {
    const hash = sha256(fixture(rel));
    expect(hash).toBe(shared.get(rel));
    expect(hash).toBe(local.get(rel));
  });
});
