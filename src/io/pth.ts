import { ownedBuffer, type ByteSource } from './byte-source.js';
import { WeightsFormatError } from './errors.js';
import { unpickle, type PickleGlobal } from './pickle.js';
import { gatherStrided, isContiguous, lastIndex } from './strided.js';
import { DTYPE_BYTES, MAX_TENSOR_BYTES, typedArrayFor, type TensorData } from './tensor-data.js';
import { PendingTensor, StorageRef, torchPickleOptions } from './torch-pickle.js';
import { readZipDirectory, readZipEntry, type ZipEntry } from './zip.js';

export { stateDictFrom } from './state-dict.js';
export type { StorageRef } from './torch-pickle.js';

// Reads torch.save zip archives (torch >= 1.6): <archive>/data.pkl is unpickled by the restricted VM,
// its persistent ids name <archive>/data/<key> storages, read by range once each when a tensor needs them.

const MAX_PICKLE_BYTES = 256 * 1024 * 1024;
const MAX_NESTING = 256;

/** What torch.save stored: tensors as TensorData, dicts as Maps, lists as arrays, tuples as frozen arrays. */
export type PthValue =
  | null | boolean | number | bigint | string | Uint8Array | TensorData | PickleGlobal | StorageRef
  | readonly PthValue[] | Map<PthValue, PthValue>;

export interface LoadPthOptions {
  /**
   * Bytes that copies of views (non-contiguous or partial tensors) may total; tensors covering their
   * whole storage are not copied. Default: 64 MiB plus 4× the storages' size (at most the file's).
   */
  maxViewBytes?: number;
}

/** Whatever torch.save stored, with every tensor as a contiguous TensorData in its stored dtype. */
export async function loadPth(src: ByteSource, opts: LoadPthOptions = {}): Promise<PthValue> {
  const file = src.name;
  await refuseLegacy(src);
  const entries = await readZipDirectory(src);
  const pklName = findDataPkl(entries, file);
  const prefix = pklName.slice(0, -'data.pkl'.length);
  const order = entries.get(`${prefix}byteorder`);
  if (order && new TextDecoder().decode(await readZipEntry(src, order, 16)).trim() !== 'little') {
    throw new WeightsFormatError(file, 'big-endian', 'the checkpoint was saved big-endian; re-save it on a little-endian machine or convert it to safetensors');
  }
  const options = torchPickleOptions(file);
  const root = unpickle(await readZipEntry(src, entries.get(pklName)!, MAX_PICKLE_BYTES), options);
  const storages = options.storages;

  const storageBytes = new Map<string, Promise<ArrayBuffer>>();
  const readStorage = (s: StorageRef, tensor: string) => {
    let bytes = storageBytes.get(s.key);
    if (!bytes) {
      bytes = readStorageEntry(src, entries, prefix, s, tensor);
      storageBytes.set(s.key, bytes);
    }
    return bytes;
  };
  // Claimed storage sizes are only checked when read, but real storages cannot outgrow the file.
  let claimed = 0;
  for (const s of storages.values()) claimed += s.numel * DTYPE_BYTES[s.dtype];
  let viewBudget = opts.maxViewBytes ?? 64 * 1024 * 1024 + 4 * Math.min(claimed, src.size);

  const materialise = async (t: PendingTensor, name: string): Promise<TensorData> => {
    const { storage, offset, size, stride } = t;
    const esize = DTYPE_BYTES[storage.dtype];
    const count = size.reduce((a, b) => a * b, 1);
    if (count * esize > MAX_TENSOR_BYTES) throw new WeightsFormatError(file, 'too-large', `size [${size}] of ${storage.dtype} is more than one buffer can hold (${MAX_TENSOR_BYTES} bytes)`, name);
    if (count > 0 && lastIndex(offset, size, stride) >= storage.numel) {
      throw new WeightsFormatError(file, 'out-of-range', `the view (offset ${offset}, size [${size}], stride [${stride}]) reaches outside its ${storage.numel}-element storage '${storage.key}'`, name);
    }
    const whole = count === storage.numel && offset === 0 && isContiguous(size, stride);
    if (!whole) {
      viewBudget -= count * esize;
      if (viewBudget < 0) throw new WeightsFormatError(file, 'too-large', `copying this ${count}-element view would exceed the memory allowed for views of shared storages (LoadPthOptions.maxViewBytes)`, name);
    }
    const buffer = count === 0 ? new ArrayBuffer(0) : await readStorage(storage, name);
    // A tensor covering its whole storage shares the storage's buffer (as tied weights do in torch).
    const data = whole ? buffer : gatherStrided(buffer, esize, offset, size, stride);
    return { name, dtype: storage.dtype, shape: [...size], data: typedArrayFor(storage.dtype, data) };
  };

  // Name each tensor by its first path in the tree, read and copy them, then rebuild the tree with them.
  const names = new Map<PendingTensor, string>();
  walkTensors(root, '', 0, new Set(), (t, path) => void (names.has(t) || names.set(t, path)), file);
  const done = new Map<PendingTensor, TensorData>();
  for (const [t, name] of names) done.set(t, await materialise(t, name));
  return withTensors(root, done, new Map()) as PthValue;
}

function walkTensors(v: unknown, path: string, depth: number, visited: Set<unknown>, found: (t: PendingTensor, path: string) => void, file: string): void {
  if (depth > MAX_NESTING) throw new WeightsFormatError(file, 'bad-pickle', `containers nested more than ${MAX_NESTING} deep at '${path}'`);
  if (v instanceof PendingTensor) return found(v, path);
  if (!(v instanceof Map) && !Array.isArray(v)) return;
  if (visited.has(v)) return;
  visited.add(v);
  const join = (k: unknown) => (path ? `${path}.${String(k)}` : String(k));
  if (v instanceof Map) for (const [k, x] of v) walkTensors(x, join(k), depth + 1, visited, found, file);
  else v.forEach((x, i) => walkTensors(x, join(i), depth + 1, visited, found, file));
}

/** A copy of the tree with tensors in place; shared and cyclic containers stay shared and cyclic. */
function withTensors(v: unknown, done: Map<PendingTensor, TensorData>, copies: Map<unknown, unknown>): unknown {
  if (v instanceof PendingTensor) return done.get(v);
  if (!(v instanceof Map) && !Array.isArray(v)) return v;
  if (copies.has(v)) return copies.get(v);
  if (v instanceof Map) {
    const m = new Map();
    copies.set(v, m);
    for (const [k, x] of v) m.set(k, withTensors(x, done, copies));
    return m;
  }
  const a: unknown[] = [];
  copies.set(v, a);
  for (const x of v) a.push(withTensors(x, done, copies));
  return Object.isFrozen(v) ? Object.freeze(a) : a;
}

async function refuseLegacy(src: ByteSource): Promise<void> {
  if (src.size < 2) return;
  const head = await src.read(0, 2);
  // Pre-1.6 files are a bare pickle (PROTO 2, then a magic number) followed by raw storages.
  if (head[0] === 0x80 && head[1] <= 5) {
    throw new WeightsFormatError(src.name, 'legacy-pth', 'this is a legacy (non-zip, torch < 1.6) checkpoint, which cannot be read safely here; load it in Python and re-save it with torch >= 1.6 (torch.save(state_dict, path)), or convert it to safetensors');
  }
}

function findDataPkl(entries: Map<string, ZipEntry>, file: string): string {
  const candidates = [...entries.keys()].filter((n) => /^([^/]+\/)?data\.pkl$/.test(n));
  if (candidates.length !== 1) {
    throw new WeightsFormatError(file, 'bad-pth', candidates.length ? `the archive has ${candidates.length} data.pkl records (${candidates.join(', ')}); expected one` : 'the archive has no <name>/data.pkl: it is a zip file but not a torch.save checkpoint');
  }
  return candidates[0];
}

async function readStorageEntry(src: ByteSource, entries: Map<string, ZipEntry>, prefix: string, s: StorageRef, tensor: string): Promise<ArrayBuffer> {
  const file = src.name;
  const entry = entries.get(`${prefix}data/${s.key}`);
  if (!entry) throw new WeightsFormatError(file, 'bad-pth', `its storage '${s.key}' (${prefix}data/${s.key}) is missing from the archive`, tensor);
  const bytes = s.numel * DTYPE_BYTES[s.dtype];
  if (bytes > MAX_TENSOR_BYTES) throw new WeightsFormatError(file, 'too-large', `its storage '${s.key}' of ${bytes} bytes is more than one buffer can hold (${MAX_TENSOR_BYTES}); convert the checkpoint to safetensors`, tensor);
  if (entry.size !== bytes) throw new WeightsFormatError(file, 'truncated', `its storage '${s.key}' holds ${entry.size} bytes but ${s.numel} ${s.dtype} elements need ${bytes}`, tensor);
  return ownedBuffer(await readZipEntry(src, entry, bytes));
}
