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
