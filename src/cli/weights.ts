import { existsSync, realpathSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../io/node/atomic-write.js';
import { DTYPE_BYTES, writeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import { floatToHalfBits } from '../io/dtype.js';
import { fileSource } from '../io/node/file-source.js';
import { openDirWeights, openWeights, type WeightsReader } from '../models/pretrained.js';
import { fsDir } from '../models/node/fs-dir.js';

/** A .safetensors / .pth / .bin file, or a model folder (its weights file is found as fromPretrained does). */
export async function openAny(path: string, weights?: string): Promise<WeightsReader> {
  if (!existsSync(path)) throw new Error(`cflens: no such file or folder: ${path}`);
  return statSync(path).isDirectory() ? openDirWeights(fsDir(path), weights) : openWeights(fileSource(path));
}

const fmtBytes = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`);

export async function inspect(path: string, json: boolean): Promise<string> {
  const r = await openAny(path);
  const rows = r.keys().map((k) => {
    const shape = [...r.shape(k)];
    const bytes = shape.reduce((a, b) => a * b, 1) * (DTYPE_BYTES[r.dtype(k)] ?? 4);
    return { name: k, dtype: r.dtype(k), shape, bytes };
  });
  const total = rows.reduce((a, x) => a + x.bytes, 0);
  const params = rows.reduce((a, x) => a + x.shape.reduce((p, q) => p * q, 1), 0);
  if (json) return JSON.stringify({ file: r.file, tensors: rows, totalBytes: total, parameters: params }, null, 2);
  const w = rows.reduce((m, x) => Math.max(m, x.name.length), 4);
  return [
    `${r.file}: ${rows.length} tensors, ${params.toLocaleString('en')} values, ${fmtBytes(total)}`,
    ...rows.map((x) => `  ${x.name.padEnd(w)}  ${x.dtype.padEnd(4)}  [${x.shape.join(', ')}]`),
  ].join('\n');
}

/** Any readable checkpoint → one .safetensors file, as f32 or f16 (integer tensors keep their values as f32/f16). */
export async function convert(input: string, out: string, dtype: 'f16' | 'f32', o: { force?: boolean } = {}): Promise<string> {
  if (!o.force && existsSync(out) && realpathSync(out) === realpathSync(input)) {
    throw new Error(`cflens convert: --out ${out} is the input itself: the ${dtype} result would replace the original; write elsewhere, or add --force`);
  }
  const r = await openAny(input);
  const tensors: Record<string, TensorToWrite> = {};
  for (const k of r.keys()) {
    const v = await r.read(k);
    tensors[k] = dtype === 'f16'
      ? { dtype: 'F16', shape: r.shape(k), data: Uint16Array.from(v, floatToHalfBits) }
      : { dtype: 'F32', shape: r.shape(k), data: v };
  }
  const bytes = writeSafetensors(tensors, { format: 'pt', converted_by: 'cflens', source: input.split(/[\\/]/).pop() ?? input });
  await writeFileAtomic(out, bytes);
  return `wrote ${out}: ${Object.keys(tensors).length} tensors, ${fmtBytes(bytes.byteLength)} (${dtype})`;
}

