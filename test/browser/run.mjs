#!/usr/bin/env node
// Browser smoke test: serves the repo with vite, opens web/smoke.html in headless Chromium (WebGPU on
// SwiftShader when there is no GPU) and reports window.__cflensResults.
//   node test/browser/run.mjs [--screenshot out.png] [--verbose]
// Env: CFLENS_CHROMIUM (default /usr/bin/chromium), CFLENS_BROWSER_TIMEOUT_MS (default 300000),
//      CFLENS_BROWSER_ARGS (extra Chromium flags, space-separated).
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const argv = process.argv.slice(2);
const screenshotAt = argv.indexOf('--screenshot');
const screenshot = screenshotAt >= 0 ? argv[screenshotAt + 1] : undefined;
const verbose = argv.includes('--verbose') || process.env.CFLENS_BROWSER_VERBOSE === '1';
const executablePath = process.env.CFLENS_CHROMIUM || '/usr/bin/chromium';
const timeout = Number(process.env.CFLENS_BROWSER_TIMEOUT_MS || 300_000);

const ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-angle=vulkan',
  '--enable-unsafe-swiftshader',
  '--ignore-gpu-blocklist',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  ...(process.env.CFLENS_BROWSER_ARGS ? process.env.CFLENS_BROWSER_ARGS.split(/\s+/).filter(Boolean) : []),
];

const t0 = Date.now();
const secs = () => ((Date.now() - t0) / 1000).toFixed(1);
let server;
let context;
let profile;
let pageErrors = 0;

async function cleanup() {
  await context?.close().catch(() => {});
  context = undefined;
  await server?.close().catch(() => {});
  server = undefined;
  if (profile) rmSync(profile, { recursive: true, force: true });
  profile = undefined;
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    cleanup().finally(() => process.exit(130));
  });
}

/** Forwards the page's errors (and, with --verbose, all its console output) to stdout. */
function watch(page, label) {
  page.on('console', (msg) => {
    const type = msg.type();
    if (type === 'error') {
      pageErrors++;
      console.log(`[${label} console.error] ${msg.text()}`);
    } else if (verbose || type === 'warning') {
      console.log(`[${label} console.${type}] ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => {
    pageErrors++;
    console.log(`[${label} pageerror] ${err.stack || err.message}`);
  });
  page.on('crash', () => {
    pageErrors++;
    console.log(`[${label}] the page crashed`);
  });
}

async function main() {
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: install it (apt-get install -y chromium) or set CFLENS_CHROMIUM`);
  }
  server = await createServer({
    root,
    configFile: join(root, 'vite.config.ts'),
    logLevel: 'warn',
    clearScreen: false,
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null },
    // The pages import only the library's own sources: nothing to pre-bundle or scan for.
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  await server.listen();
  const base = server.resolvedUrls?.local?.[0];
  if (!base) throw new Error('vite did not report a local URL');
  console.log(`vite: ${base} (${secs()} s)`);

  profile = mkdtempSync(join(tmpdir(), 'cflens-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ARGS,
    viewport: { width: 1000, height: 800 },
  });
  console.log(`chromium ${context.browser()?.version() ?? ''} started (${secs()} s)`.replace('  ', ' '));

  const page = context.pages()[0] ?? (await context.newPage());
  watch(page, 'smoke');
  await page.goto(new URL('web/smoke.html', base).href);
  const handle = await page.waitForFunction(() => window.__cflensResults, null, { timeout, polling: 250 });
  const results = await handle.jsonValue();

  console.log(`adapter: ${JSON.stringify(results.adapter)}`);
  for (const d of results.details) {
    console.log(`  ${d.ok ? 'ok  ' : 'FAIL'} ${d.name} (${Math.round(d.ms)} ms)${d.message ? `: ${d.message}` : ''}`);
  }
  if (results.error) console.log(`  FAIL setup: ${results.error}`);

  if (screenshot) {
    const demo = await context.newPage();
    watch(demo, 'index');
    await demo.goto(new URL('web/index.html', base).href);
    await demo.waitForFunction(() => window.__cflensReady, null, { timeout, polling: 250 });
    await demo.screenshot({ path: screenshot, fullPage: true });
    console.log(`screenshot of web/index.html: ${screenshot}`);
  }

  console.log(`time: ${secs()} s`);
  console.log(`browser: ${results.passed} passed, ${results.failed} failed`);
  if (pageErrors) console.log(`${pageErrors} page error(s): see above`);
  return results.failed === 0 && pageErrors === 0 && results.passed > 0;
}

let ok = false;
try {
  ok = await main();
} catch (e) {
  console.log(`browser: error: ${e?.stack || e}`);
  console.log('browser: 0 passed, 1 failed');
} finally {
  await cleanup();
}
process.exit(ok ? 0 : 1);
