import { existsSync } from 'node:fs';
import { fileSource } from '../../src/io/node/index.js';

export const fixturesDir = new URL('../fixtures/', import.meta.url).pathname;
export const sharedFixturesDir = new URL('../../../shared/fixtures/', import.meta.url).pathname;

/** The fixtures the I/O tests read: byte-identical copies of ../shared/fixtures. */
export const IO_FIXTURES = [
  'pth_cases/checkpoint.pth', 'pth_cases/dtypes.pth', 'pth_cases/views.pth', 'pth_cases/expected.safetensors', 'pth_cases/meta.json',
  'resnet_A/weights.pth', 'resnet_A/weights.safetensors',
];

/** A fixture's path; a missing one fails the test (it is never skipped). */
export function fixture(rel: string): string {
  const path = `${fixturesDir}${rel}`;
  if (!existsSync(path)) {
    throw new Error(`missing fixture test/fixtures/${rel}: copy it byte-identical from ../shared/fixtures/${rel} (scripts/copy-fixtures.sh)`);
  }
  return path;
}

export const fixtureSource = (rel: string) => fileSource(fixture(rel));
