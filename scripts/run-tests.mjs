// `npm test`: lint and typecheck, the vitest suite, then the browser smoke test; ends with one summary line.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const skipBrowser = args.includes('--no-browser') || process.env.CFLENS_SKIP_BROWSER === '1';
const vitestArgs = args.filter((a) => a !== '--no-browser');
const dir = mkdtempSync(join(tmpdir(), 'cflens-test-'));
const report = join(dir, 'vitest.json');
let staticPassed = 0;
let staticFailed = 0;

// Static checks first: the lint/format rules (eslint.config.js) and the type checker. Each counts as one test.
for (const [name, cmd] of [['lint (eslint .)', ['eslint', '.']], ['typecheck (tsc --noEmit)', ['tsc', '-p', 'tsconfig.json', '--noEmit']]]) {
  const r = spawnSync('npx', cmd, { stdio: 'inherit' });
  if (r.status === 0) {
    staticPassed++;
    console.log(`${name}: ok`);
  } else {
    staticFailed++;
    console.log(`${name}: FAILED`);
  }
}

const vt = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...vitestArgs], { stdio: 'inherit' });
let passed = staticPassed;
let failed = staticFailed;
let skipped = 0;
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  if (r.numFailedTestSuites && !r.numFailedTests) failed += r.numFailedTestSuites;
} else {
  failed += 1;
}
if (vt.status !== 0 && failed === 0) failed += 1;

if (!skipBrowser && existsSync('test/browser/run.mjs')) {
  const br = spawnSync('node', ['test/browser/run.mjs'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(br.stdout ?? '');
  const m = /browser: (\d+) passed, (\d+) failed/.exec(br.stdout ?? '');
  if (m) {
    passed += Number(m[1]);
    failed += Number(m[2]);
  }
  if (br.status !== 0 && (!m || Number(m[2]) === 0)) failed += 1;
}
rmSync(dir, { recursive: true, force: true });
console.log(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
