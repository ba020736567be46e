// Dev-only: rewrites .safetensors files in the writer's layout (the reference crate's: tensors by
// descending dtype alignment then name, header padded so the data starts at a multiple of 8). Tensors,
// dtypes, shapes, metadata and bytes stay the same, only order and padding change: each new file is read
// back and compared tensor by tensor before it replaces the old one.
//   npx tsx scripts/rewrite-safetensors.ts [--check] [file ...]   (default: models/defaults/*/model.safetensors)
// --check changes nothing and exits 1 if a file is not in that layout.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesSource, SafetensorsFile, writeSafetensors, type TensorToWrite } from '../src/io/index.js';

interface Contents {
  metadata: Record<string, string>;
  tensors: Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>;
}

async function contents(name: string, file: Uint8Array): Promise<Contents> {
  const st = await SafetensorsFile.open(bytesSource(name, file));
  const tensors: Contents['tensors'] = new Map();
  for (const n of st.names()) {
    const t = await st.read(n);
    tensors.set(n, { dtype: t.dtype, shape: t.shape, bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice() });
  }
  return { metadata: st.metadata, tensors };
}

/** One hash over names, dtypes, shapes and bytes (by name), to show that a rewrite kept them. */
function digest(c: Contents): string {
  const h = createHash('sha256');
  for (const n of [...c.tensors.keys()].sort()) {
    const t = c.tensors.get(n)!;
    h.update(JSON.stringify([n, t.dtype, t.shape])).update(t.bytes);
  }
  return h.update(JSON.stringify(Object.entries(c.metadata))).digest('hex');
}

function differences(a: Contents, b: Contents): string[] {
  const out: string[] = [];
  if (JSON.stringify(Object.entries(a.metadata)) !== JSON.stringify(Object.entries(b.metadata))) out.push('metadata');
  if (a.tensors.size !== b.tensors.size) out.push(`${a.tensors.size} vs ${b.tensors.size} tensors`);
  for (const [n, t] of a.tensors) {
    const u = b.tensors.get(n);
    if (!u) out.push(`${n} missing`);
    else if (t.dtype !== u.dtype || JSON.stringify(t.shape) !== JSON.stringify(u.shape) || !Buffer.from(t.bytes).equals(Buffer.from(u.bytes))) {
      out.push(`${n} differs`);
    }
  }
  return out;
}

async function main() {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const root = 'models/defaults';
  const files = args.filter((a) => a !== '--check');
  if (!files.length) {
    for (const d of readdirSync(root, { withFileTypes: true })) if (d.isDirectory()) files.push(join(root, d.name, 'model.safetensors'));
  }
  let stale = 0;
  for (const path of files) {
    const before = new Uint8Array(readFileSync(path));
    const old = await contents(path, before);
    const tensors: Record<string, TensorToWrite> = {};
    for (const [n, t] of old.tensors) tensors[n] = { dtype: t.dtype as TensorToWrite['dtype'], shape: t.shape, data: t.bytes };
    const after = writeSafetensors(tensors, Object.keys(old.metadata).length ? old.metadata : undefined);
    const fresh = await contents(`${path} (rewritten)`, after);
    const diff = differences(old, fresh);
    if (diff.length) throw new Error(`cflens: ${path}: the rewrite would change ${diff.slice(0, 5).join(', ')}: nothing written`);
    const same = Buffer.from(before).equals(Buffer.from(after));
    const summary = `${old.tensors.size} tensors, content sha256 ${digest(old)} before and ${digest(fresh)} after`;
    if (same) console.log(`${path}: already in the reference layout (${summary})`);
    else if (check) {
      stale++;
      console.log(`${path}: NOT in the reference layout (${summary})`);
    } else {
      writeFileSync(path, after);
      console.log(`${path}: rewritten, ${before.length} → ${after.length} bytes (${summary})`);
    }
  }
  if (stale) process.exit(1);
}

await main();
