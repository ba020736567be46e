import { ownedBuffer, type ByteSource } from './byte-source.js';
import { WeightsFormatError } from './errors.js';
import { describeValue, TruncatedPickleError, unpickleAt, type UnpickleOptions } from './pickle.js';
import { torchPickleOptions, type OpenedPth, type StorageRef } from './torch-pickle.js';

// Legacy torch.save files (torch < 1.6, or _use_new_zipfile_serialization=False) are five pickles in a
// row — a magic number, the protocol version 1001, sys_info, the saved object (whose storage ids are
// ('storage', type, key, location, numel, view)), the list of stored storage keys — then, for each key in
// that order, the storage's element count as an 8-byte integer and its raw bytes.
// torch's writer (writeFileRaw) converts the bytes to little-endian on any machine; older releases wrote
// the count in the machine's order, so from a big-endian machine only the count may be big-endian.
// sys_info's little_endian therefore says nothing about the data, and torch.load ignores it.

const MAGIC = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;
/** The pickles are read from a prefix of the file, doubled from this size until they fit. */
const FIRST_READ = 64 * 1024;
const REMEDY = 'if it loads in Python, re-save it with torch >= 1.6 (torch.save(state_dict, path)), or convert it to safetensors';

interface LegacyPickles {
  root: unknown;
  storages: Map<string, StorageRef>;
  keys: string[];
  dataStart: number;
}

export async function openLegacyPth(src: ByteSource, maxPickleBytes: number): Promise<OpenedPth> {
  const file = src.name;
  const limit = Math.min(src.size, maxPickleBytes);
  for (let length = Math.min(limit, FIRST_READ); ; length = Math.min(limit, length * 2)) {
    let pickles: LegacyPickles;
    try {
      pickles = readPickles(await src.read(0, length), file);
    } catch (e) {
      if (!(e instanceof TruncatedPickleError)) throw e;
      if (length < limit) continue;
      if (limit < src.size) {
        throw new WeightsFormatError(
          file, 'too-large', `its pickles take more than ${maxPickleBytes} bytes, more than a checkpoint's tensor records need; ${REMEDY}`,
        );
      }
      throw new WeightsFormatError(
        file, 'legacy-pth', `this legacy (torch < 1.6) checkpoint ends inside its pickles: it is truncated or damaged (download it again); ${REMEDY}`,
      );
    }
    return layOut(src, pickles);
  }
}

function readPickles(head: Uint8Array, file: string): LegacyPickles {
  const legacy = (detail: string) => new WeightsFormatError(file, 'legacy-pth', `${detail}; ${REMEDY}`);
  let at = 0;
  const next = (o: UnpickleOptions) => {
    const r = unpickleAt(head, at, o);
    at = r.end;
    return r.value;
  };
  const magic = next(plainData(file, "the checkpoint's magic number"));
  if (magic !== MAGIC) {
    throw legacy(
      "it is a pickle, but does not start with torch's magic number as a legacy torch.save checkpoint does " +
      `(it starts with ${describeValue(magic)})`,
    );
  }
  const version = next(plainData(file, "the checkpoint's protocol version"));
  if (version !== PROTOCOL_VERSION) {
    throw legacy(
      `this legacy (torch < 1.6) checkpoint has protocol version ${describeValue(version)}, where torch writes ${PROTOCOL_VERSION}: it is damaged`,
    );
  }
  const sysInfo = next(plainData(file, "the checkpoint's sys_info"));
  if (!(sysInfo instanceof Map)) throw legacy(`this legacy (torch < 1.6) checkpoint's sys_info is a ${describeValue(sysInfo)}, not a dict: it is damaged`);
  const options = torchPickleOptions(file, 'legacy');
  const root = next(options);
  const keys = next(plainData(file, "the checkpoint's list of storage keys"));
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
    throw new WeightsFormatError(
      file, 'bad-pth', `its list of stored storages is a ${describeValue(keys)}, not a list of keys: the checkpoint is damaged`,
    );
  }
  return { root, storages: options.storages, keys, dataStart: at };
}

/** The header pickles hold plain values only: no global may appear in them. */
function plainData(file: string, what: string): UnpickleOptions {
  const refuse = (): never => {
    throw new WeightsFormatError(file, 'bad-pickle', `${what} calls or references something; it is damaged or was not written by torch.save`);
  };
  return { file, what, allowed: new Set(), reduce: refuse, persistentLoad: refuse };
}

/** Finds each listed storage after the pickles, checking its recorded element count. */
async function layOut(src: ByteSource, p: LegacyPickles): Promise<OpenedPth> {
  const file = src.name;
  const places = new Map<string, number>();
  let at = p.dataStart;
  for (const key of p.keys) {
    const s = p.storages.get(key);
    if (!s) {
      throw new WeightsFormatError(file, 'bad-pth', `its list of stored storages names '${key}', which its pickle never references: the checkpoint is damaged`);
    }
    if (places.has(key)) throw new WeightsFormatError(file, 'bad-pth', `its list of stored storages names '${key}' twice: the checkpoint is damaged`);
    if (at + 8 > src.size) {
      throw new WeightsFormatError(
        file, 'truncated', `the file ends (at byte ${src.size}) before its storage '${key}' (at byte ${at}): it is truncated (download it again)`,
      );
    }
    checkCount(file, s, await src.read(at, 8));
    places.set(key, at + 8);
    at += 8 + s.byteLength;
  }
  if (at > src.size) {
    throw new WeightsFormatError(
      file, 'truncated', `its storages end at byte ${at}, past the end of the ${src.size}-byte file: it is truncated (download it again)`,
    );
  }

  const readStorage = async (s: StorageRef, tensor: string) => {
    const at = places.get(s.key);
    if (at === undefined) {
      throw new WeightsFormatError(
        file, 'bad-pth', `its storage '${s.key}' is missing: the checkpoint's list of stored storages does not name it`, tensor,
      );
    }
    return ownedBuffer(await src.read(at, s.byteLength));
  };
  return { root: p.root, storages: p.storages, readStorage };
}

/** The count before a storage's bytes must be its numel from the pickle, little-endian or (old torch on big-endian machines) big-endian. */
function checkCount(file: string, s: StorageRef, count: Uint8Array): void {
  const view = new DataView(count.buffer, count.byteOffset, 8);
  const numel = BigInt(s.numel);
  if (view.getBigUint64(0, true) === numel || view.getBigUint64(0, false) === numel) return;
  throw new WeightsFormatError(
    file, 'bad-pth',
    `its storage '${s.key}' records ${view.getBigUint64(0, true)} elements where its pickle says ${s.numel}: the checkpoint is damaged (download it again)`,
  );
}
