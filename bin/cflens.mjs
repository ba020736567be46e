#!/usr/bin/env node
// Runs the TypeScript CLI directly (tsx), so the package needs no build step.
// Dawn prints two warnings on stderr whenever it enumerates a Mesa Vulkan adapter (limits it lowers for
// itself, nothing a user can act on), from native code that Node cannot intercept in-process: the CLI
// runs in a child whose stderr passes through here with just those lines dropped.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const DAWN_NOISE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

if (process.env.CFLENS_CLI_CHILD === '1') {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
} else {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, CFLENS_CLI_CHILD: '1' },
  });
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (!DAWN_NOISE.test(line)) process.stderr.write(`${line}\n`);
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  // 'close' comes after the child's output has been read to the end.
  child.on('close', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
}
