import { doctor, formatDoctor } from './doctor.js';

const USAGE = `usage: cflens <command> [options]

commands:
  doctor [--json]   show the WebGPU adapter, backend, features and limits, and check a computation
  inspect <path> [--json]
                    list the tensors of a .safetensors / .pth / .bin file or a model folder
  convert <in> --out <file.safetensors> [--dtype f16|f32]
                    convert a .pth / .bin / .safetensors file or a diffusers/transformers folder
  diagnose [--target smile_blond] [--models models/defaults] [--out cflens-report]
           [--faces 64] [--counterfactuals 4] [--iterations 8] [--seed 0]
                    diagnose a default target model on the synthetic world: attribute sensitivities
                    from exact counterfactuals, generative counterfactuals from the default DDPM
  help              this text

environment:
  CFLENS_BACKEND=vulkan|opengles|...   Dawn backend (Node); opengles needs Mesa EGL (compatibility mode)
  CFLENS_NO_F16=1                      never use shader-f16`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(argv: string[]): Promise<number> {
  const [cmd = 'help', ...rest] = argv;
  switch (cmd) {
    case 'doctor': {
      const r = await doctor();
      console.log(rest.includes('--json') ? JSON.stringify(r, null, 2) : formatDoctor(r));
      return r.ok ? 0 : 1;
    }
    case 'inspect': {
      const path = rest.find((a) => !a.startsWith('--'));
      if (!path) throw new Error('cflens inspect: give a file or folder');
      const { inspect } = await import('./weights.js');
      console.log(await inspect(path, rest.includes('--json')));
      return 0;
    }
    case 'convert': {
      const input = rest[0];
      const out = flag(rest, '--out');
      const dtype = flag(rest, '--dtype') ?? 'f32';
      if (!input || input.startsWith('--') || !out) throw new Error('cflens convert: usage: cflens convert <in> --out <file.safetensors> [--dtype f16|f32]');
      if (dtype !== 'f16' && dtype !== 'f32') throw new Error(`cflens convert: --dtype must be f16 or f32, got ${dtype}`);
      const { convert } = await import('./weights.js');
      console.log(await convert(input, out, dtype));
      return 0;
    }
    case 'diagnose': {
      const num = (name: string, d: number) => {
        const v = flag(rest, name);
        if (v === undefined) return d;
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) throw new Error(`cflens diagnose: ${name} must be a whole number ≥ 0, got ${v}`);
        return n;
      };
      const { diagnose } = await import('./diagnose.js');
      console.log(await diagnose({
        target: flag(rest, '--target') ?? 'smile_blond', models: flag(rest, '--models') ?? 'models/defaults', out: flag(rest, '--out') ?? 'cflens-report',
        faces: Math.max(1, num('--faces', 64)), counterfactuals: num('--counterfactuals', 4), iterations: num('--iterations', 8), seed: num('--seed', 0),
      }));
      return 0;
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
