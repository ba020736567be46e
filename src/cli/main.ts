import { doctor, formatDoctor } from './doctor.js';

const USAGE = `usage: cflens <command> [options]

commands:
  doctor [--json]   show the WebGPU adapter, backend, features and limits, and check a computation
  help              this text

environment:
  CFLENS_BACKEND=vulkan|opengles|...   Dawn backend (Node); opengles needs Mesa EGL (compatibility mode)
  CFLENS_NO_F16=1                      never use shader-f16`;

async function main(argv: string[]): Promise<number> {
  const [cmd = 'help', ...rest] = argv;
  switch (cmd) {
    case 'doctor': {
      const r = await doctor();
      console.log(rest.includes('--json') ? JSON.stringify(r, null, 2) : formatDoctor(r));
      return r.ok ? 0 : 1;
    }
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      console.error(`cflens: unknown command '${cmd}'\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
