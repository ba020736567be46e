import { keep } from '../autograd/scope.js';
import { CLIPTokenizer } from '../io/clip-tokenizer.js';
import { loadPth, looksLikePth, PTH_SNIFF_BYTES, stateDictFrom } from '../io/pth.js';
import { SafetensorsFile, toFloat32, type ByteSource, type TensorData } from '../io/safetensors.js';
import { fromArray } from '../ops/creation.js';
import { compareStateDict, throwIfMismatched, type LoadReport, type Module } from '../nn/module.js';
import type { WeightsDir } from './weights-dir.js';

/** Weight file names tried in order when none is given (diffusers, transformers, torchvision, ours). */
export const WEIGHT_FILES = [
  'diffusion_pytorch_model.safetensors', 'model.safetensors', 'weights.safetensors',
  'diffusion_pytorch_model.bin', 'pytorch_model.bin', 'weights.pth', 'model.pth',
];

/** Names, shapes and lazily read values of a weights file, whatever its format. */
export interface WeightsReader {
  readonly file: string;
  keys(): string[];
  shape(key: string): readonly number[];
  dtype(key: string): string;
  read(key: string): Promise<Float32Array>;
}

export async function resolveDir(dir: string | WeightsDir): Promise<WeightsDir> {
  if (typeof dir !== 'string') return dir;
  // The platform seam: '#model-files' reads folders from disk in Node and refuses elsewhere (package.json "imports").
  const { fsDir } = await import('#model-files');
  return fsDir(dir);
}

/** A JSON file of a model folder (a path or a WeightsDir): readConfig with the folder resolved. */
export async function readJsonFile(dir: string | WeightsDir, file: string): Promise<Record<string, unknown>> {
  return readConfig(await resolveDir(dir), file);
}

/** The CLIP tokenizer shipped in a model folder (vocab.json + merges.txt, transformers' layout). */
export async function loadTokenizer(dir: string | WeightsDir): Promise<CLIPTokenizer> {
  const d = await resolveDir(dir);
  return CLIPTokenizer.fromHF(await d.readText('vocab.json'), await d.readText('merges.txt'));
}

export async function readConfig(dir: WeightsDir, file = 'config.json'): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await dir.readText(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'it does not exist' : err.message;
    const hint = file === 'config.json' ? 'a model folder needs config.json next to its weights' : `${file} belongs in the model folder`;
    throw new Error(`cflens: cannot read ${dir.name}/${file}: ${why}; ${hint}`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`cflens: ${dir.name}/${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Opens a .safetensors or a torch.save file (.pth/.pt/.bin: zip or legacy), by content rather than by name. */
export async function openWeights(src: ByteSource): Promise<WeightsReader> {
  if (looksLikePth(await src.read(0, Math.min(src.size, PTH_SNIFF_BYTES)))) {
    const sd = stateDictFrom(await loadPth(src));
    const entries = sd instanceof Map ? sd : new Map(Object.entries(sd as Record<string, TensorData>));
    return {
      file: src.name,
      keys: () => [...entries.keys()],
      shape: (k) => entries.get(k)!.shape,
      dtype: (k) => entries.get(k)!.dtype,
      read: async (k) => toFloat32(entries.get(k)!),
    };
  }
  const st = await SafetensorsFile.open(src);
  return {
    file: src.name,
    keys: () => st.names(),
    shape: (k) => st.info(k).shape,
    dtype: (k) => st.info(k).dtype,
    read: async (k) => toFloat32(await st.read(k)),
  };
}

/** Finds and opens the weights file of a model folder. */
export async function openDirWeights(dir: WeightsDir, file?: string): Promise<WeightsReader> {
  const names = await dir.list();
  const chosen = file ?? WEIGHT_FILES.find((f) => names.includes(f)) ?? names.find((f) => /\.(safetensors|pth|pt|bin)$/.test(f));
  if (!chosen || !names.includes(chosen)) {
    throw new Error(
      `cflens: ${dir.name}: no weights file${file ? ` named ${file}` : ''} (looked for ${WEIGHT_FILES.join(', ')} or any .safetensors/.pth/.bin)`,
    );
  }
  return openWeights(await dir.open(chosen));
}

export interface LoadOptions {
  strict?: boolean;
  /** Weights on the GPU as f32 (default) or f16 (half the memory; frozen, computed in f32 per call). */
  dtype?: 'f32' | 'f16';
  /** Renames checkpoint keys to the module's (e.g. strip a 'module.' prefix). */
  keyMap?: (key: string) => string | null;
}

/**
 * Streams a checkpoint into a module tensor by tensor (the whole file never sits in memory). Names and
 * shapes are checked from the header first: a strict load changes nothing when anything is off.
 */
export async function loadWeightsInto(module: Module, reader: WeightsReader, opts: LoadOptions = {}): Promise<LoadReport> {
  const strict = opts.strict ?? true;
  const own = module.stateDict();
  const mapped = new Map<string, string>();
  for (const k of reader.keys()) {
    const m = opts.keyMap ? opts.keyMap(k) : k;
    if (m !== null) mapped.set(m, k);
  }
  // BatchNorm's step counter is absent from many exported checkpoints; PyTorch tolerates that too.
  const shapes = new Map([...mapped].map(([k, src]) => [k, reader.shape(src)]));
  const report = compareStateDict(own, shapes, (k) => k.endsWith('num_batches_tracked'));
  if (strict) throwIfMismatched(`${module.constructor.name} from ${reader.file}`, report);
  for (const [k, src] of mapped) {
    const target = own.get(k);
    if (!target || reader.shape(src).join() !== target.shape.join()) continue;
    const data = await reader.read(src);
    const half = opts.dtype === 'f16' && target.dtype === 'f32' && !k.endsWith('num_batches_tracked');
    const t = keep(fromArray(data, target.shape, { ctx: target.ctx, dtype: half ? 'f16' : target.dtype }));
    module.setByPath(k, t);
    if (half) t.requiresGrad_(false);
  }
  return report;
}

/** config.json + weights → a constructed, loaded module. */
export async function fromPretrainedDir<M extends Module>(
  dirLike: string | WeightsDir,
  build: (config: Record<string, unknown>) => M,
  opts: LoadOptions & { weights?: string; configFile?: string } = {},
): Promise<M> {
  const dir = await resolveDir(dirLike);
  const config = await readConfig(dir, opts.configFile);
  const module = build(config);
  try {
    await loadWeightsInto(module, await openDirWeights(dir, opts.weights), opts);
  } catch (e) {
    module.dispose();
    throw e;
  }
  return module;
}
