import { existsSync, realpathSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../io/node/atomic-write.js';
import { DTYPE_BYTES, safetensorsChunks, safetensorsLayout } from '../io/safetensors.js';
import { floatToHalfBits } from '../io/dtype.js';
import { fileSource } from '../io/node/file-source.js';
import { openDirWeights, openWeights, type WeightsReader } from '../models/pretrained.js';
import { fsDir } from '../models/node/fs-dir.js';

/** A .safetensors / .pth / .bin file, or a model folder (its weights file is found as fromPretrained does). */
export async function openAny(path: string, weights?: string): Promise<WeightsReader> {
  if (!existsSync(path)) throw new Error(`cflens: no such file or folder: ${path}`);
  return statSync(path).isDirectory() ? openDirWeights(fsDir(path), weights) : openWeights(fileSource(path));
}

const fmtBytes = (n: number) => (
  n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`
);

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

/** Output bytes a conversion may write per input byte (plus a floor) before it must be asked for. */
const EXPANSION_LIMIT = 8;
const EXPANSION_FLOOR = 256 * 2 ** 20;

/**
 * Any readable checkpoint → one .safetensors file, as f32 or f16 (integer tensors keep their values as
 * f32/f16). Streams: one tensor is read, converted and written at a time, into a temporary file that
 * replaces `out` only when complete. Tensors that share storage in a .pth each become a full copy, so
 * the output is sized up front and refused past `maxBytes` (default 8× the input + 256 MiB).
 */
export async function convert(input: string, out: string, dtype: 'f16' | 'f32', o: { force?: boolean; maxBytes?: number } = {}): Promise<string> {
  if (!o.force && existsSync(out) && realpathSync(out) === realpathSync(input)) {
    throw new Error(`cflens convert: --out ${out} is the input itself: the ${dtype} result would replace the original; write elsewhere, or add --force`);
  }
  const r = await openAny(input);
  const outDtype = dtype === 'f16' ? 'F16' : 'F32';
  const specs = Object.fromEntries(r.keys().map((k) => [k, { dtype: outDtype, shape: r.shape(k) }] as const));
  const { head, dataBytes } = safetensorsLayout(specs);
  const total = head.byteLength + dataBytes;
  const inputBytes = statSync(input).isDirectory() ? 0 : statSync(input).size;
  const limit = o.maxBytes ?? EXPANSION_FLOOR + EXPANSION_LIMIT * inputBytes;
  if (total > limit) {
    throw new Error(
      `cflens convert: ${input} (${fmtBytes(inputBytes)}) would become ${fmtBytes(total)} of ${dtype} tensors, ` +
      `over the limit of ${fmtBytes(limit)} (8× the input + 256 MiB): its tensors share storage or it is hostile. ` +
      `Nothing was written; pass --max-bytes ${total} to convert it anyway`,
    );
  }
  const metadata = { format: 'pt', converted_by: 'cflens', source: input.split(/[\\/]/).pop() ?? input };
  await writeFileAtomic(out, safetensorsChunks(specs, async (k) => {
    const v = await r.read(k);
    return dtype === 'f16' ? Uint16Array.from(v, floatToHalfBits) : v;
  }, metadata));
  return `wrote ${out}: ${r.keys().length} tensors, ${fmtBytes(total)} (${dtype})`;
}
