import type { ByteSource } from './byte-source.js';
import { WeightsFormatError } from './errors.js';
import { unpickle } from './pickle.js';
import { DTYPE_BYTES, type TensorData, type TensorArray } from './safetensors.js';
import { readZipDirectory, readZipEntry } from './zip.js';

const STORAGE_DTYPES: Record<string, string> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

const ALLOWED = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  ...Object.keys(STORAGE_DTYPES).map((s) => `torch.${s}`),
]);

interface StorageRef { kind: 'storage'; dtype: string; key: string; numel: number }
interface PendingTensor { kind: 'pending-tensor'; storage: StorageRef; offset: number; size: number[]; stride: number[] }

const isPending = (v: unknown): v is PendingTensor => !!v && typeof v === 'object' && (v as PendingTensor).kind === 'pending-tensor';

function typed(dtype: string, buf: ArrayBuffer): TensorArray {
  switch (dtype) {
    case 'F64': return new Float64Array(buf);
    case 'F32': return new Float32Array(buf);
    case 'F16': case 'BF16': return new Uint16Array(buf);
    case 'I64': return new BigInt64Array(buf);
    case 'I32': return new Int32Array(buf);
    case 'I16': return new Int16Array(buf);
    case 'I8': return new Int8Array(buf);
    default: return new Uint8Array(buf);
  }
}

/** Whatever torch.save stored, with tensors as TensorData (contiguous copies) and dicts as Maps. */
export async function loadPth(src: ByteSource): Promise<unknown> {
  const file = src.name;
  if (src.size >= 2) {
    const head = await src.read(0, 2);
    if (head[0] === 0x80 && head[1] <= 5) {
      throw new WeightsFormatError(file, 'legacy-pth', 'this is a legacy (pre-1.6, non-zip) torch file; re-save it with torch >= 1.6 (torch.save(state_dict, path)) or convert it to safetensors');
    }
  }
  const entries = await readZipDirectory(src);
  const pkl = [...entries.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
  if (!pkl) throw new WeightsFormatError(file, 'bad-pth', 'the archive has no data.pkl: not a torch.save file');
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const order = entries.get(`${prefix}byteorder`);
  if (order && new TextDecoder().decode(await readZipEntry(src, order)).trim() !== 'little') {
    throw new WeightsFormatError(file, 'big-endian', 'big-endian checkpoints are not supported; re-save on a little-endian machine');
  }
  const storages = new Map<string, StorageRef>();
  const obj = unpickle(await readZipEntry(src, entries.get(pkl)!), {
    file,
    allowed: ALLOWED,
    persistentLoad: (pid) => {
      if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw new WeightsFormatError(file, 'bad-pth', `unsupported persistent id ${JSON.stringify(pid).slice(0, 80)}`);
      const [, type, key, , numel] = pid as [string, { name?: string }, string, string, number];
      const dtype = STORAGE_DTYPES[type?.name ?? ''];
      if (!dtype) throw new WeightsFormatError(file, 'bad-dtype', `unsupported storage type ${type?.name}`);
      if (typeof key !== 'string' || !Number.isSafeInteger(numel) || numel < 0) throw new WeightsFormatError(file, 'bad-pth', 'malformed storage reference');
      const s = storages.get(key) ?? { kind: 'storage' as const, dtype, key, numel };
      storages.set(key, s);
      return s;
    },
    reduce: (fn, args) => {
      switch (fn) {
        case 'collections.OrderedDict':
          return new Map();
        case 'torch._utils._rebuild_tensor_v2': {
          const [storage, offset, size, stride] = args as [StorageRef, number, number[], number[]];
          if (!storage || storage.kind !== 'storage' || !Number.isSafeInteger(offset) || !Array.isArray(size) || !Array.isArray(stride) || size.length !== stride.length) {
            throw new WeightsFormatError(file, 'bad-pth', 'malformed tensor record');
          }
          return { kind: 'pending-tensor', storage, offset, size, stride } satisfies PendingTensor;
        }
        case 'torch._utils._rebuild_parameter':
        case 'torch._utils._rebuild_parameter_with_state':
          return args[0];
        default:
          throw new WeightsFormatError(file, 'disallowed-global', `refusing to call ${fn}`);
      }
    },
  });

  const data = new Map<string, Uint8Array>();
  for (const s of storages.values()) {
    const entry = entries.get(`${prefix}data/${s.key}`);
    if (!entry) throw new WeightsFormatError(file, 'bad-pth', `storage ${s.key} is missing from the archive`);
    const need = s.numel * DTYPE_BYTES[s.dtype];
    if (entry.size < need) throw new WeightsFormatError(file, 'truncated', `storage ${s.key} has ${entry.size} bytes, needs ${need}`);
    data.set(s.key, await readZipEntry(src, entry));
  }

  let counter = 0;
  const materialise = (t: PendingTensor, name: string): TensorData => {
    const esize = DTYPE_BYTES[t.storage.dtype];
    const numel = t.size.reduce((a, b) => a * b, 1);
    if (t.size.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new WeightsFormatError(file, 'bad-shape', `invalid size ${JSON.stringify(t.size)}`, name);
    if (numel > 0) {
      const last = t.offset + t.size.reduce((a, d, i) => a + (d - 1) * t.stride[i], 0);
      if (t.offset < 0 || last >= t.storage.numel || t.stride.some((s) => s < 0)) throw new WeightsFormatError(file, 'out-of-range', `view (offset ${t.offset}, size ${JSON.stringify(t.size)}, stride ${JSON.stringify(t.stride)}) reaches outside its ${t.storage.numel}-element storage`, name);
    }
    const src8 = data.get(t.storage.key)!;
    // Views may repeat storage elements (stride 0), but never by an absurd factor: bounds the allocation.
    if (numel * esize > Math.max(16 * src8.byteLength, 1 << 20)) throw new WeightsFormatError(file, 'too-large', `a ${numel}-element view of a ${t.storage.numel}-element storage`, name);
    const out = new Uint8Array(numel * esize);
    const idx = new Array<number>(t.size.length).fill(0);
    for (let i = 0; i < numel; i++) {
      let off = t.offset;
      for (let d = 0; d < idx.length; d++) off += idx[d] * t.stride[d];
      out.set(src8.subarray(off * esize, off * esize + esize), i * esize);
      for (let d = idx.length - 1; d >= 0; d--) {
        if (++idx[d] < t.size[d]) break;
        idx[d] = 0;
      }
    }
    return { name, dtype: t.storage.dtype, shape: [...t.size], data: typed(t.storage.dtype, out.buffer) };
  };

  const resolve = (v: unknown, name: string, seen: Map<unknown, unknown>): unknown => {
    if (isPending(v)) return materialise(v, name || `tensor${counter++}`);
    if (seen.has(v)) return seen.get(v);
    if (v instanceof Map) {
      const m = new Map();
      seen.set(v, m);
      for (const [k, x] of v) m.set(k, resolve(x, name ? `${name}.${String(k)}` : String(k), seen));
      return m;
    }
    if (Array.isArray(v)) {
      const a: unknown[] = [];
      seen.set(v, a);
      v.forEach((x, i) => a.push(resolve(x, `${name}[${i}]`, seen)));
      return a;
    }
    return v;
  };
  return resolve(obj, '', new Map());
}

const isTensorData = (v: unknown): v is TensorData => !!v && typeof v === 'object' && 'dtype' in v && 'shape' in v && 'data' in v;

/**
 * The state dict inside what loadPth returned: the object itself when it maps names to tensors, else
 * under 'state_dict', 'model_state_dict' or 'model' (training checkpoints); nested dicts of tensors are
 * flattened with dotted names.
 */
export function stateDictFrom(obj: unknown): Map<string, TensorData> {
  if (!(obj instanceof Map)) throw new Error('cflens: the checkpoint does not hold a dict of tensors');
  for (const key of ['state_dict', 'model_state_dict', 'model']) {
    const inner = obj.get(key);
    if (inner instanceof Map) return stateDictFrom(inner);
  }
  const out = new Map<string, TensorData>();
  const walk = (m: Map<unknown, unknown>, prefix: string) => {
    for (const [k, v] of m) {
      const name = prefix ? `${prefix}.${String(k)}` : String(k);
      if (isTensorData(v)) out.set(name, v);
      else if (v instanceof Map) walk(v, name);
    }
  };
  walk(obj, '');
  if (!out.size) throw new Error('cflens: the checkpoint holds no tensors (expected a state dict)');
  return out;
}
