import { intOf, parseCommand, strOf, UsageError } from './args.js';
import { doctor, formatDoctor } from './doctor.js';

const USAGE = `usage: cflens <command> [options]

commands:
  doctor [--json]   show the WebGPU adapter, backend, features and limits, and check a computation
  inspect <path> [--json]
                    list the tensors of a .safetensors / .pth / .bin file or a model folder
  convert <in> --out <file.safetensors> [--dtype f16|f32] [--force] [--max-bytes N]
                    convert a .pth / .bin / .safetensors file or a diffusers/transformers folder
                    (--force: allow writing over the input itself; --max-bytes: allow an output
                    larger than 8× the input + 256 MiB, e.g. from tensors sharing storage)
  diagnose [--method umo|zoom|exact] [--target smile_blond|<folder>] [--models models/defaults]
           [--out cflens-report] [--faces N] [--seed 0 | --seeds 0,1,2,3,4] [--resume (umo, zoom)]
           exact: [--counterfactuals 4] [--iterations 8]
           umo:   [--k 3] [--iterations 10] [--batch 8] [--lr 0.1] [--gamma 10] [--generator ddpm|world_sd|<folder>[,…]]
                  [--steps 10] [--invert-steps 2] [--bank file.json | --attributes "a,b,c"]
           zoom:  [--iterations 5] [--direction-steps 8] [--generator …] [--bank … | --attributes …]
                    diagnose a target model on the synthetic world. exact: attribute sensitivities
                    from exact counterfactuals (the world's oracle) and generative counterfactuals
                    from the DDPM; umo: UMO's unsupervised edit directions in the generator's h-space,
                    named through CLIP and the bank; zoom: ZOOM's sensitivity histogram over the
                    bank's attributes (umo with several generators: one search each, scores
                    averaged). Each run writes <out>/runs/<id>/ and points <out>/latest at it;
                    --seeds runs one per seed and writes the agreement with the oracle per seed to
                    <out>/validation-<method>-<target>.json; --resume continues the newest run of
                    the same settings that was killed or stopped (Ctrl-C) in its own folder (umo:
                    from its last pass, also to add --iterations; zoom: the attributes not measured)
  harden [--target smile_blond|<folder>] [--method umo|zoom] [--steps 50] [--batch 16] [--faces 64]
         [--attack 100] [--lr 1e-4] [--generator ddpm|world_sd|<folder>] [--out cflens-harden]
                    counterfactual training of a world classifier: fine-tunes it on an even mix of its
                    training data and counterfactuals made against it (original labels kept); reports
                    accuracy, bias-conflicting accuracy and flip resistance FR-25 / FR-<attack> before
                    and after, and writes the hardened model beside the report
  digin disagree|neuron [--pipeline world_sd|<folder>] [--f smile_blond] [--g smile_control]
         [--class 1] [--neuron 0] [--prompt "a face"] [--steps 20] [--guidance 3] [--iterations 20]
         [--cutouts 16] [--batch 1] [--seed 0] [--out cflens-digin]
                    DiG-IN: optimise a guided diffusion sampler's z_T and per-step text / null
                    embeddings so that the image makes f and g disagree on --class (disagree), or
                    maximises a channel of --f's last feature map (neuron); --guidance is DiG-IN's w
  digin uvce [--pipeline world_sd|<folder>] [--f smile_blond] [--class 1] [--word <caption word>] [--faces 4]
         [--steps 20] [--inner-steps 10] [--guidance 3] [--iterations 20] [--cutouts 16] [--seed 0]
                    DiG-IN's UVCEs: faces --f does not put in --class, captioned by the attribute reader,
                    null-text inverted and changed where --word attends (default: the label's word)
                    until --f does; p before and after, the change inside and outside the mask
  digin spurious [--f smile_blond] [--g smile_control] [--faces 64] [--seed 0] [--out cflens-digin]
                    DiG-IN's spurious-vs-core neuron test: where the channels that drive --f's decision
                    fire on world faces — the label's region or the planted shortcut's (both known
                    from the renderer) — beside --g's
  lance [--target smile_blond] [--pipeline world_sd|<folder>] [--faces 8] [--steps 10]
        [--inner-steps 10] [--edits 12] [--self-replace 0.2,0.4,0.6,0.8] [--control] [--seed 0] [--out cflens-lance]
                    LANCE: caption each face (the attribute reader), perturb the caption by edit type,
                    edit the image (null-text inversion + prompt-to-prompt), keep the edits that pass
                    the filters; Δp(y_GT) per edit type and cluster, Δacc@1, the reconstruction
                    control, and with --control the random-word perturber (LANCE-R)
  help              this text

environment:
  CFLENS_BACKEND=vulkan|opengles|...   Dawn backend (Node); opengles needs Mesa EGL (compatibility mode)
  CFLENS_NO_F16=1                      never use shader-f16`;

async function main(argv: string[]): Promise<number> {
  const [cmd = 'help', ...rest] = argv;
  switch (cmd) {
    case 'doctor': {
      const p = parseCommand('doctor', rest, { json: { type: 'boolean' } });
      const r = await doctor();
      console.log(p.values.json ? JSON.stringify(r, null, 2) : formatDoctor(r));
      return r.ok ? 0 : 1;
    }
    case 'inspect': {
      const p = parseCommand('inspect', rest, { json: { type: 'boolean' } }, 1);
      const path = p.positionals[0];
      if (!path) throw new UsageError('cflens inspect: give a file or folder: cflens inspect <path> [--json]');
      const { inspect } = await import('./weights.js');
      console.log(await inspect(path, Boolean(p.values.json)));
      return 0;
    }
    case 'convert': {
      const p = parseCommand('convert', rest, {
        out: { type: 'string' }, dtype: { type: 'string', choices: ['f16', 'f32'] }, force: { type: 'boolean' }, 'max-bytes': { type: 'string', min: 1 },
      }, 1);
      const input = p.positionals[0];
      const out = p.values.out as string | undefined;
      if (!input || !out) throw new UsageError('cflens convert: usage: cflens convert <in> --out <file.safetensors> [--dtype f16|f32] [--force]');
      const { convert } = await import('./weights.js');
      const maxBytes = typeof p.values['max-bytes'] === 'string' ? intOf(p, 'max-bytes', 0) : undefined;
      console.log(await convert(input, out, strOf(p, 'dtype', 'f32') as 'f16' | 'f32', { force: Boolean(p.values.force), maxBytes }));
      return 0;
    }
    case 'diagnose': {
      const p = parseCommand('diagnose', rest, {
        method: { type: 'string', choices: ['exact', 'umo', 'zoom'] },
        target: { type: 'string' }, models: { type: 'string' }, out: { type: 'string' },
        faces: { type: 'string', min: 1 }, counterfactuals: { type: 'string', min: 0 }, iterations: { type: 'string', min: 1 },
        seed: { type: 'string', min: 0 }, k: { type: 'string', min: 1 }, batch: { type: 'string', min: 1 }, generator: { type: 'string' },
        steps: { type: 'string', min: 2 }, 'invert-steps': { type: 'string', min: 1 }, bank: { type: 'string' }, attributes: { type: 'string' },
        'direction-steps': { type: 'string', min: 1 }, seeds: { type: 'string' }, lr: { type: 'string' },
        gamma: { type: 'string' }, resume: { type: 'boolean' },
      });
      const method = strOf(p, 'method', 'umo') as 'exact' | 'umo' | 'zoom';
      // UMO's defaults are those validated on smile_blond (planted shortcut first in 4 of 5 seeds, ~1.5 min each).
      const per = { exact: { faces: 64, iterations: 8, k: 4 }, umo: { faces: 12, iterations: 10, k: 3 }, zoom: { faces: 8, iterations: 5, k: 4 } }[method];
      const { diagnose, diagnoseSeeds } = await import('./diagnose.js');
      const seeds = typeof p.values.seeds === 'string' ? p.values.seeds.split(',').map((v) => Number(v.trim())) : null;
      if (seeds && (method === 'exact' || seeds.some((v) => !Number.isInteger(v) || v < 0))) {
        throw new UsageError('cflens diagnose: --seeds takes non-negative integers ("0,1,2,3,4") and the umo or zoom method');
      }
      const run = (x: Parameters<typeof diagnose>[0]) => (seeds ? diagnoseSeeds(x, seeds) : diagnose(x));
      console.log(await run({
        method, target: strOf(p, 'target', 'smile_blond'), models: strOf(p, 'models', 'models/defaults'), out: strOf(p, 'out', 'cflens-report'),
        faces: intOf(p, 'faces', per.faces), counterfactuals: intOf(p, 'counterfactuals', 4), iterations: intOf(p, 'iterations', per.iterations),
        seed: intOf(p, 'seed', 0), k: intOf(p, 'k', per.k), batch: intOf(p, 'batch', 8), generator: strOf(p, 'generator', 'ddpm'),
        steps: intOf(p, 'steps', 10), invertSteps: intOf(p, 'invert-steps', 2),
        bank: p.values.bank as string | undefined, attributes: p.values.attributes as string | undefined,
        directionSteps: intOf(p, 'direction-steps', 8), lr: typeof p.values.lr === 'string' ? Number(p.values.lr) : undefined,
        gamma: typeof p.values.gamma === 'string' ? Number(p.values.gamma) : undefined, resume: p.values.resume === true,
      }));
      return 0;
    }
    case 'harden': {
      const p = parseCommand('harden', rest, {
        target: { type: 'string' }, models: { type: 'string' }, out: { type: 'string' }, generator: { type: 'string' },
        method: { type: 'string', choices: ['umo', 'zoom'] }, steps: { type: 'string', min: 1 }, batch: { type: 'string', min: 2 },
        faces: { type: 'string', min: 4 }, attack: { type: 'string', min: 1 }, seed: { type: 'string', min: 0 }, lr: { type: 'string' },
        'invert-steps': { type: 'string', min: 1 },
      });
      const { hardenCommand } = await import('./harden.js');
      console.log(await hardenCommand({
        target: strOf(p, 'target', 'smile_blond'), models: strOf(p, 'models', 'models/defaults'), out: strOf(p, 'out', 'cflens-harden'),
        generator: strOf(p, 'generator', 'ddpm'), method: strOf(p, 'method', 'umo') as 'umo' | 'zoom', steps: intOf(p, 'steps', 50),
        batch: intOf(p, 'batch', 16), faces: intOf(p, 'faces', 64), attack: intOf(p, 'attack', 100), seed: intOf(p, 'seed', 0),
        lr: Number(strOf(p, 'lr', '1e-4')), invertSteps: intOf(p, 'invert-steps', 2),
      }));
      return 0;
    }
    case 'digin': {
      const p = parseCommand('digin', rest, {
        models: { type: 'string' }, out: { type: 'string' }, pipeline: { type: 'string' }, f: { type: 'string' }, g: { type: 'string' },
        class: { type: 'string', min: 0 }, neuron: { type: 'string', min: 0 }, prompt: { type: 'string' }, steps: { type: 'string', min: 1 },
        guidance: { type: 'string' }, iterations: { type: 'string', min: 1 }, cutouts: { type: 'string', min: 0 }, batch: { type: 'string', min: 1 },
        seed: { type: 'string', min: 0 }, faces: { type: 'string', min: 1 }, word: { type: 'string' }, 'inner-steps': { type: 'string', min: 1 },
      }, 1);
      const mode = p.positionals[0];
      if (mode === 'spurious') {
        const { diginSpuriousCommand } = await import('./digin-spurious.js');
        console.log(await diginSpuriousCommand({
          models: strOf(p, 'models', 'models/defaults'), out: strOf(p, 'out', 'cflens-digin'), f: strOf(p, 'f', 'smile_blond'),
          g: strOf(p, 'g', 'smile_control'), faces: intOf(p, 'faces', 64), seed: intOf(p, 'seed', 0),
        }));
        return 0;
      }
      if (mode === 'uvce') {
        const { diginUvceCommand } = await import('./digin-uvce.js');
        console.log(await diginUvceCommand({
          models: strOf(p, 'models', 'models/defaults'), out: strOf(p, 'out', 'cflens-digin'), pipeline: strOf(p, 'pipeline', 'world_sd'),
          f: strOf(p, 'f', 'smile_blond'), cls: intOf(p, 'class', 1), word: p.values.word as string | undefined, faces: intOf(p, 'faces', 4),
          steps: intOf(p, 'steps', 20), guidance: Number(strOf(p, 'guidance', '3')), iterations: intOf(p, 'iterations', 20),
          innerSteps: intOf(p, 'inner-steps', 10), cutouts: intOf(p, 'cutouts', 16), seed: intOf(p, 'seed', 0),
        }));
        return 0;
      }
      if (mode !== 'disagree' && mode !== 'neuron') {
        throw new UsageError('cflens digin: give disagree, neuron, uvce or spurious: cflens digin disagree [--f …] [--g …]');
      }
      const { diginCommand } = await import('./digin.js');
      console.log(await diginCommand({
        mode, models: strOf(p, 'models', 'models/defaults'), out: strOf(p, 'out', 'cflens-digin'), pipeline: strOf(p, 'pipeline', 'world_sd'),
        f: strOf(p, 'f', 'smile_blond'), g: strOf(p, 'g', 'smile_control'), cls: intOf(p, 'class', 1), neuron: intOf(p, 'neuron', 0),
        prompt: strOf(p, 'prompt', 'a face'), steps: intOf(p, 'steps', 20), guidance: Number(strOf(p, 'guidance', '3')),
        iterations: intOf(p, 'iterations', 20), cutouts: intOf(p, 'cutouts', 16), batch: intOf(p, 'batch', 1), seed: intOf(p, 'seed', 0),
      }));
      return 0;
    }
    case 'lance': {
      const p = parseCommand('lance', rest, {
        target: { type: 'string' }, models: { type: 'string' }, out: { type: 'string' }, pipeline: { type: 'string' }, faces: { type: 'string', min: 1 },
        steps: { type: 'string', min: 2 }, 'inner-steps': { type: 'string', min: 1 }, edits: { type: 'string', min: 1 }, seed: { type: 'string', min: 0 },
        control: { type: 'boolean' }, 'self-replace': { type: 'string' },
      });
      const { lanceCommand } = await import('./lance.js');
      console.log(await lanceCommand({
        target: strOf(p, 'target', 'smile_blond'), models: strOf(p, 'models', 'models/defaults'), out: strOf(p, 'out', 'cflens-lance'),
        pipeline: strOf(p, 'pipeline', 'world_sd'), faces: intOf(p, 'faces', 8), steps: intOf(p, 'steps', 10), innerSteps: intOf(p, 'inner-steps', 10),
        editsPerImage: intOf(p, 'edits', 12), seed: intOf(p, 'seed', 0), control: Boolean(p.values.control),
        selfReplace: typeof p.values['self-replace'] === 'string' ? p.values['self-replace'].split(',').map(Number) : undefined,
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
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
