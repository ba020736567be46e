// With CFLENS_COMPILE_LOG=<file>, every test file appends the pipelines it created (one JSON line
// each: file, kernel, variant, WGSL bytes and hash, creation ms) and a summary line with the file's wall
// time: which files and kernels a cold run pays for (bench/compile.ts measures the kernels themselves).
import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { afterAll, expect } from 'vitest';
import { hasGpu, gpu } from '../../src/gpu/index.js';

const log = process.env.CFLENS_COMPILE_LOG;
const hash = (code: string) => createHash('sha256').update(code).digest('hex').slice(0, 16);
if (log) {
  const start = performance.now();
  afterAll(() => {
    const file = (expect.getState().testPath ?? '').replace(`${process.cwd()}/`, '');
    const records = hasGpu() ? gpu().pipelines.records : [];
    const lines = records.map(({ code, ...r }) => JSON.stringify({ file, ...r, wgslHash: hash(code) }));
    const compileMs = records.reduce((s, r) => s + r.ms, 0);
    lines.push(JSON.stringify({ file, summary: true, pipelines: records.length, compileMs, wallMs: performance.now() - start }));
    appendFileSync(log, lines.join('\n') + '\n');
  });
}
