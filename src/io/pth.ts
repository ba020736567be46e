import { swapByteOrder } from './byte-order.js';
import { ownedBuffer, type ByteSource } from './byte-source.js';
import { WeightsFormatError } from './errors.js';
import { unpickle, type PickleGlobal } from './pickle.js';
import { openLegacyPth } from './pth-legacy.js';
import { gatherStrided, isContiguous, lastIndex } from './strided.js';
import { DTYPE_BYTES, MAX_TENSOR_BYTES, MAX_TENSORS, typedArrayFor, type TensorData } from './tensor-data.js';
import { PendingTensor, StorageRef, torchPickleOptions, type OpenedPth } from './torch-pickle.js';
import { readZipDirectory, readZipEntry, type ZipEntry } from './zip.js';

export { stateDictFrom } from './state-dict.js';
export type { StorageRef } from './torch-pickle.js';

// Reads what torch.save writes, never running code: zip archives (torch >= 1.6), whose <archive>/data.pkl
// names <archive>/data/<key> storages, and legacy files (pickles then raw storages, see pth-legacy.ts).
// The pickle is run by the restricted VM; each storage is read by range once, when a tensor needs it.

const MAX_PICKLE_BYTES = 256 * 1024 * 1024;
const MAX_NESTING = 256;
/** Where a POSIX tar header says "ustar". */
const TAR_MAGIC_AT = 257;

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
  const { root, storages, readStorage: readStored } = await openPth(src);

  // Name each tensor by its first path in the tree; refuse dtypes cflens cannot hold before reading anything.
  const names = new Map<PendingTensor, string>();
  walkTensors(root, '', 0, new Set(), (t, path) => {
    if (names.has(t)) return;
    if (names.size >= MAX_TENSORS) {
      throw new WeightsFormatError(
        file, 'too-many-tensors',
        `the checkpoint holds more than the ${MAX_TENSORS} tensors cflens reads from one file (real checkpoints hold thousands); ` +
        'the file is damaged or hostile',
      );
    }
    names.set(t, path);
  }, file);
  for (const [t, name] of names) if (t.storage.unsupported) throw unsupportedDtype(file, t.storage, name);
  for (const s of storages.values()) if (s.unsupported) throw unsupportedDtype(file, s);

  const storageBytes = new Map<string, Promise<ArrayBuffer>>();
  const readStorage = (s: StorageRef, tensor: string) => {
    let bytes = storageBytes.get(s.key);
    if (!bytes) {
      if (s.byteLength > MAX_TENSOR_BYTES) {
        throw new WeightsFormatError(
          file, 'too-large',
          `its storage '${s.key}' of ${s.byteLength} bytes is more than one buffer can hold (${MAX_TENSOR_BYTES}); convert the checkpoint to safetensors`,
          tensor,
        );
      }
      bytes = readStored(s, tensor);
      storageBytes.set(s.key, bytes);
    }
    return bytes;
  };
  // Claimed storage sizes are only checked when read, but real storages cannot outgrow the file.
  let claimed = 0;
  for (const s of storages.values()) claimed += s.byteLength;
  let viewBudget = opts.maxViewBytes ?? 64 * 1024 * 1024 + 4 * Math.min(claimed, src.size);

  const materialise = async (t: PendingTensor, name: string): Promise<TensorData> => {
    const { storage, offset, size, stride } = t;
    const esize = DTYPE_BYTES[storage.dtype];
    const count = size.reduce((a, b) => a * b, 1);
    if (count * esize > MAX_TENSOR_BYTES) {
      throw new WeightsFormatError(
        file, 'too-large', `size [${size}] of ${storage.dtype} is more than one buffer can hold (${MAX_TENSOR_BYTES} bytes)`, name,
      );
    }
    if (count > 0 && lastIndex(offset, size, stride) >= storage.numel) {
      throw new WeightsFormatError(
        file, 'out-of-range',
        `the view (offset ${offset}, size [${size}], stride [${stride}]) reaches outside its ${storage.numel}-element storage '${storage.key}'`,
        name,
      );
    }
    // A legacy storage view is a slice of the stored storage: offsets are shifted into it.
    const stored = storage.view?.root ?? storage;
    const start = offset + (storage.view?.start ?? 0);
    const whole = count === stored.numel && start === 0 && isContiguous(size, stride);
    if (!whole) {
      viewBudget -= count * esize;
      if (viewBudget < 0) {
        throw new WeightsFormatError(
          file, 'too-large',
          `copying this ${count}-element view would exceed the memory allowed for views of shared storages (LoadPthOptions.maxViewBytes)`,
          name,
        );
      }
    }
    const buffer = count === 0 ? new ArrayBuffer(0) : await readStorage(stored, name);
    // A tensor covering its whole storage shares the storage's buffer (as tied weights do in torch).
    const data = whole ? buffer : gatherStrided(buffer, esize, start, size, stride);
    return { name, dtype: storage.dtype, shape: [...size], data: typedArrayFor(storage.dtype, data) };
  };

  const done = new Map<PendingTensor, TensorData>();
  for (const [t, name] of names) done.set(t, await materialise(t, name));
  return withTensors(root, done, new Map()) as PthValue;
}

function unsupportedDtype(file: string, s: StorageRef, tensor?: string): WeightsFormatError {
  const what = tensor === undefined ? `storage '${s.key}' has` : 'it has';
  return new WeightsFormatError(
    file, 'bad-dtype',
    `${what} dtype ${s.unsupported!.torchDtype}, which cflens does not support (its tensors are real: f64, f32, f16, bf16, integer, bool); ` +
    'convert it in Python to real tensors (torch.view_as_real(t) gives the real and imaginary parts as a last dimension of size 2) and save those',
    tensor,
  );
}

/** Picks the reader by the first bytes, as torch.load does: a pickle is a legacy file, anything else must be a zip. */
/** Whether a file's first bytes are a torch.save file: a zip archive, a legacy pickle stream or a tar. */
export function looksLikePth(head: Uint8Array): boolean {
  if (head.length >= 2 && head[0] === 0x50 && head[1] === 0x4b) return true;
  if (head.length >= 2 && head[0] === 0x80 && head[1] <= 5) return true;
  return new TextDecoder().decode(head.subarray(TAR_MAGIC_AT, TAR_MAGIC_AT + 5)) === 'ustar';
}

/** How many leading bytes looksLikePth needs. */
export const PTH_SNIFF_BYTES = TAR_MAGIC_AT + 5;

async function openPth(src: ByteSource): Promise<OpenedPth> {
  const head = await src.read(0, Math.min(src.size, TAR_MAGIC_AT + 5));
  if (head.length >= 2 && head[0] === 0x80 && head[1] <= 5) return openLegacyPth(src, MAX_PICKLE_BYTES); // pickle PROTO
  if (new TextDecoder().decode(head.subarray(TAR_MAGIC_AT, TAR_MAGIC_AT + 5)) === 'ustar') {
    throw new WeightsFormatError(
      src.name, 'legacy-pth',
      "this is a tar archive: the checkpoint format of the earliest torch releases (members 'sys_info', 'pickle', 'storages', 'tensors'), " +
      'which cflens does not read; load it in Python with a torch that still reads it and re-save it with torch >= 1.6 ' +
      '(torch.save(state_dict, path)), or convert it to safetensors',
    );
  }
  return openZipPth(src);
}

async function openZipPth(src: ByteSource): Promise<OpenedPth> {
  const file = src.name;
  const entries = await readZipDirectory(src);
  const pklName = findDataPkl(entries, file);
  const prefix = pklName.slice(0, -'data.pkl'.length);
  const bigEndian = await isBigEndian(src, entries.get(`${prefix}byteorder`));
  const options = torchPickleOptions(file);
  const root = unpickle(await readZipEntry(src, entries.get(pklName)!, MAX_PICKLE_BYTES), options);
  const readStorage = async (s: StorageRef, tensor: string) => {
    const buffer = await readStorageEntry(src, entries, prefix, s, tensor);
    if (bigEndian) swapByteOrder(new Uint8Array(buffer), DTYPE_BYTES[s.dtype]);
    return buffer;
  };
  return { root, storages: options.storages, readStorage };
}

/** <archive>/byteorder (torch >= 2.1) says how storages were written; without it they are little-endian. */
async function isBigEndian(src: ByteSource, record: ZipEntry | undefined): Promise<boolean> {
  if (!record) return false;
  const order = new TextDecoder().decode(await readZipEntry(src, record, 16));
  // torch.load accepts exactly these two.
  if (order === 'little' || order === 'big') return order === 'big';
  throw new WeightsFormatError(
    src.name, 'bad-pth',
    `its byteorder record says ${JSON.stringify(order)}, where torch writes "little" or "big": the archive is damaged or was not written by torch.save`,
  );
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

function findDataPkl(entries: Map<string, ZipEntry>, file: string): string {
  const candidates = [...entries.keys()].filter((n) => /^([^/]+\/)?data\.pkl$/.test(n));
  if (candidates.length !== 1) {
    throw new WeightsFormatError(
      file, 'bad-pth',
      candidates.length
        ? `the archive has ${candidates.length} data.pkl records (${candidates.join(', ')}); expected one`
        : 'the archive has no <name>/data.pkl: it is a zip file but not a torch.save checkpoint',
    );
  }
  return candidates[0];
}

async function readStorageEntry(src: ByteSource, entries: Map<string, ZipEntry>, prefix: string, s: StorageRef, tensor: string): Promise<ArrayBuffer> {
  const file = src.name;
  const entry = entries.get(`${prefix}data/${s.key}`);
  if (!entry) throw new WeightsFormatError(file, 'bad-pth', `its storage '${s.key}' (${prefix}data/${s.key}) is missing from the archive`, tensor);
  const bytes = s.byteLength;
  if (entry.size !== bytes) {
    throw new WeightsFormatError(
      file, 'truncated', `its storage '${s.key}' holds ${entry.size} bytes but ${s.numel} ${s.dtype} elements need ${bytes}`, tensor,
    );
  }
  return ownedBuffer(await readZipEntry(src, entry, bytes));
}
