import type { ByteSource } from '../io/safetensors.js';

/**
 * A folder of model files (config.json + weights), abstracted so the same loading code runs on a
 * Node path (src/models/node/fs-dir.ts) or on browser Files / URLs.
 */
export interface WeightsDir {
  readonly name: string;
  list(): Promise<string[]>;
  readText(file: string): Promise<string>;
  open(file: string): Promise<ByteSource>;
  /** The folder `name` inside this one, where the implementation can list it; see subfolder(). */
  subdir?(name: string): WeightsDir;
}

/**
 * The folder `sub` of a folder (a diffusers pipeline's unet/, vae/, …). A path gets `/sub` appended. A
 * WeightsDir gives its own subdir(), or else a view of its files named `sub/<file>`: a memoryDir holds a
 * folder tree that way (keys 'unet/config.json', as a browser's folder upload names its files).
 */
export function subfolder(dir: string | WeightsDir, sub: string): string | WeightsDir {
  if (typeof dir === 'string') return `${dir.replace(/[\\/]+$/, '')}/${sub}`;
  if (dir.subdir) return dir.subdir(sub);
  const prefix = `${sub}/`;
  return {
    name: `${dir.name}/${sub}`,
    list: async () => (await dir.list()).filter((f) => f.startsWith(prefix)).map((f) => f.slice(prefix.length)),
    readText: (f) => dir.readText(prefix + f),
    open: (f) => dir.open(prefix + f),
  };
}

/** A WeightsDir over in-memory files (browser uploads, tests). */
export function memoryDir(name: string, files: Record<string, Uint8Array | string>): WeightsDir {
  const enc = new TextEncoder();
  const bytes = (f: string): Uint8Array => {
    const v = files[f];
    if (v === undefined) throw new Error(`cflens: ${name}: no file ${f}`);
    return typeof v === 'string' ? enc.encode(v) : v;
  };
  return {
    name,
    list: async () => Object.keys(files),
    readText: async (f) => new TextDecoder().decode(bytes(f)),
    open: async (f) => {
      const b = bytes(f);
      return { name: `${name}/${f}`, size: b.byteLength, read: async (o: number, l: number) => b.subarray(o, o + l) };
    },
  };
}
