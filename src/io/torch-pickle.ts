import { WeightsFormatError } from './errors.js';
import { describeValue, globalName, isPickleGlobal, type PickleGlobal, type UnpickleOptions } from './pickle.js';
import { DTYPE_BYTES, type DType } from './tensor-data.js';

// What torch.save's pickle may reference, and how each allowlisted call becomes plain data: storages
// become StorageRefs, tensor rebuilds PendingTensors (resolved once their storage is read), OrderedDicts Maps.

const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};
/** Storages torch writes that have no cflens dtype: recognised, so the refusal can say what they are. */
const UNSUPPORTED_STORAGES: Readonly<Record<string, { torchDtype: string; elementBytes: number; part: DType }>> = {
  ComplexFloatStorage: { torchDtype: 'complex64', elementBytes: 8, part: 'F32' },
  ComplexDoubleStorage: { torchDtype: 'complex128', elementBytes: 16, part: 'F64' },
};
const REBUILD_TENSOR = 'torch._utils._rebuild_tensor_v2';
/** The rebuild function of torch < 0.4 checkpoints: (storage, offset, size, stride), no requires_grad. */
const REBUILD_TENSOR_V1 = 'torch._utils._rebuild_tensor';
const REBUILD_PARAMETER = ['torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state'];
const REBUILD_FROM_TYPE = 'torch._tensor._rebuild_from_type_v2';
/** Classes that only appear as arguments (storage types, the type a tensor is rebuilt as): never called. */
const TYPE_MARKERS = new Set([
  'torch.Tensor', 'torch.nn.parameter.Parameter',
  ...[...Object.keys(STORAGE_DTYPES), ...Object.keys(UNSUPPORTED_STORAGES)].map((s) => `torch.${s}`),
]);
const ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  'collections.OrderedDict', REBUILD_TENSOR, REBUILD_TENSOR_V1, ...REBUILD_PARAMETER, REBUILD_FROM_TYPE,
  '_codecs.encode', // how protocol 2 pickles a bytes object
  ...TYPE_MARKERS,
]);

const MAX_RANK = 64;

/** A storage named by a persistent id: <archive>/data/<key>, `numel` elements of `dtype`. */
export class StorageRef {
  readonly kind = 'storage';
  constructor(
    readonly dtype: DType,
    readonly key: string,
    readonly numel: number,
    /** A torch dtype cflens cannot hold (complex64, ...); `dtype` is then its real part's. Refused before any read. */
    readonly unsupported?: { torchDtype: string; elementBytes: number },
    /** A legacy storage view: `numel` elements of `root` from element `start` on. */
    readonly view?: { root: StorageRef; start: number },
  ) {}

  /** Bytes of the storage's data in the file. */
  get byteLength(): number {
    return this.numel * (this.unsupported?.elementBytes ?? DTYPE_BYTES[this.dtype]);
  }
}

/** A torch.save file opened: its pickled tree (tensors pending) and how to read a stored storage, little-endian. */
export interface OpenedPth {
  root: unknown;
  /** Every stored storage the pickle references, by key. */
  storages: Map<string, StorageRef>;
  /** Exactly the storage's bytes (`numel` elements of its dtype), in a buffer the caller may keep. */
  readStorage: (s: StorageRef, tensor: string) => Promise<ArrayBuffer>;
}

/** A tensor record from the pickle: a view (in elements) of a storage, not yet read. */
export class PendingTensor {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly size: number[], readonly stride: number[]) {}
}

const isIndexList = (v: unknown): v is number[] => Array.isArray(v) && v.length <= MAX_RANK && v.every((d) => Number.isSafeInteger(d) && d >= 0);

/**
 * The unpickler callbacks for a torch.save pickle: data.pkl of a zip archive, or the main pickle of a
 * legacy (torch < 1.6) file, whose storage ids carry one more field. `storages` collects every storage
 * referenced (legacy views by their root).
 */
export function torchPickleOptions(file: string, layout: 'zip' | 'legacy' = 'zip'): UnpickleOptions & { storages: Map<string, StorageRef> } {
  const storages = new Map<string, StorageRef>();
  const views = new Map<string, StorageRef>();
  return {
    file,
    storages,
    what: layout === 'zip' ? undefined : "the checkpoint's pickle",
    allowed: ALLOWED_GLOBALS,
    persistentLoad: (pid) => storageRef(pid, layout, storages, views, file),
    reduce: (fn, args) => rebuild(fn, args, file),
  };
}

/**
 * ('storage', type, key, location, numel) in zip archives; legacy files add view metadata, None or
 * (view key, offset, numel) for a storage that is a slice of the stored one (torch < 0.4).
 */
function storageRef(pid: unknown, layout: 'zip' | 'legacy', storages: Map<string, StorageRef>, views: Map<string, StorageRef>, file: string): StorageRef {
  const fields = layout === 'zip' ? 5 : 6;
  if (!Array.isArray(pid) || pid.length !== fields || pid[0] !== 'storage') {
    throw new WeightsFormatError(
      file, 'bad-pth',
      `unsupported persistent id ${describeValue(pid)}: expected ('storage', type, key, location, numel${layout === 'zip' ? '' : ', view'})`,
    );
  }
  const [, type, key, , numel, view] = pid as unknown[];
  const name = isPickleGlobal(type) && type.module === 'torch' ? type.name : '';
  const unsupported = Object.hasOwn(UNSUPPORTED_STORAGES, name) ? UNSUPPORTED_STORAGES[name] : undefined;
  const dtype = Object.hasOwn(STORAGE_DTYPES, name) ? STORAGE_DTYPES[name] : unsupported?.part;
  if (!dtype) {
    throw new WeightsFormatError(
      file, 'bad-dtype', `storage type ${describeValue(type)} is not supported (supported: ${Object.keys(STORAGE_DTYPES).join(', ')})`,
    );
  }
  if (typeof key !== 'string' || !Number.isSafeInteger(numel) || (numel as number) < 0) {
    throw new WeightsFormatError(file, 'bad-pth', `malformed storage reference (key ${describeValue(key)}, numel ${describeValue(numel)})`);
  }
  let root = storages.get(key);
  if (root) {
    if (root.dtype !== dtype || root.numel !== numel || root.unsupported !== unsupported) {
      throw new WeightsFormatError(
        file, 'bad-pth',
        `storage '${key}' is referenced as both ${root.unsupported?.torchDtype ?? root.dtype}×${root.numel} and ${unsupported?.torchDtype ?? dtype}×${numel}`,
      );
    }
  } else {
    root = new StorageRef(dtype, key, numel as number, unsupported);
    storages.set(key, root);
  }
  return view === undefined || view === null ? root : storageView(root, view, views, file);
}

function storageView(root: StorageRef, view: unknown, views: Map<string, StorageRef>, file: string): StorageRef {
  const [key, start, numel] = Array.isArray(view) ? view : [];
  if (
    !Array.isArray(view) || view.length !== 3 || typeof key !== 'string' ||
    !Number.isSafeInteger(start) || !Number.isSafeInteger(numel) || start < 0 || numel < 0
  ) {
    throw new WeightsFormatError(file, 'bad-pth', `malformed storage view ${describeValue(view)} of storage '${root.key}': expected (key, offset, numel)`);
  }
  if (start + numel > root.numel) {
    throw new WeightsFormatError(
      file, 'out-of-range',
      `storage view '${key}' (elements ${start} to ${start + numel}) reaches outside its ${root.numel}-element storage '${root.key}'`,
    );
  }
  const known = views.get(key);
  if (known) {
    if (known.view!.root !== root || known.view!.start !== start || known.numel !== numel) {
      throw new WeightsFormatError(file, 'bad-pth', `storage view '${key}' is described in two different ways`);
    }
    return known;
  }
  const ref = new StorageRef(root.dtype, key, numel, root.unsupported, { root, start });
  views.set(key, ref);
  return ref;
}

/** The allowlisted calls: each builds plain data from its arguments. */
function rebuild(fn: PickleGlobal, args: readonly unknown[], file: string): unknown {
  const name = globalName(fn);
  const bad = (detail: string): never => {
    throw new WeightsFormatError(file, 'bad-pth', `malformed ${name}(...) call: ${detail}`);
  };
  switch (name) {
    case 'collections.OrderedDict': {
      const m = new Map<unknown, unknown>();
      const items = args[0] ?? [];
      if (args.length > 1 || !Array.isArray(items)) bad('expected no arguments or a list of pairs');
      for (const kv of items as unknown[]) {
        if (!Array.isArray(kv) || kv.length !== 2) bad('expected (key, value) pairs');
        m.set((kv as unknown[])[0], (kv as unknown[])[1]);
      }
      return m;
    }
    case REBUILD_TENSOR:
    case REBUILD_TENSOR_V1: {
      const [storage, offset, size, stride] = args;
      if (args.length < 4 || !(storage instanceof StorageRef)) bad('the first argument must be a storage reference');
      if (!Number.isSafeInteger(offset) || (offset as number) < 0) bad(`storage offset ${describeValue(offset)} must be a non-negative integer`);
      if (!isIndexList(size) || !isIndexList(stride) || size.length !== stride.length) {
        bad(`size ${describeValue(size)} and stride ${describeValue(stride)} must be equally long lists of non-negative integers`);
      }
      return new PendingTensor(storage as StorageRef, offset as number, [...(size as number[])], [...(stride as number[])]);
    }
    case REBUILD_PARAMETER[0]:
    case REBUILD_PARAMETER[1]:
      if (!(args[0] instanceof PendingTensor)) bad('the first argument must be a tensor');
      return args[0];
    case REBUILD_FROM_TYPE: {
      const [func, type, inner] = args;
      if (!isPickleGlobal(func) || !Array.isArray(inner)) bad('expected (function, type, args, state)');
      if (!isPickleGlobal(type) || !TYPE_MARKERS.has(globalName(type))) bad(`a tensor cannot be rebuilt as ${describeValue(type)}`);
      const innerName = globalName(func as PickleGlobal);
      if (innerName !== REBUILD_TENSOR && innerName !== REBUILD_TENSOR_V1 && !REBUILD_PARAMETER.includes(innerName)) {
        bad(`refusing to call ${innerName} through it`);
      }
      return rebuild(func as PickleGlobal, inner as unknown[], file);
    }
    case '_codecs.encode': {
      const [text, encoding] = args;
      if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) bad('only (str, "latin1") is supported');
      const out = new Uint8Array((text as string).length);
      for (let i = 0; i < out.length; i++) {
        const c = (text as string).charCodeAt(i);
        if (c > 255) bad('a character beyond latin1');
        out[i] = c;
      }
      return out;
    }
    default:
      throw new WeightsFormatError(file, 'disallowed-global', `refusing to call global ${name}: it may only appear as a type, never be called`);
  }
}
