import { copyBytes } from './byte-source.js';
import { WeightsFormatError } from './errors.js';

// A restricted pickle reader: the opcodes torch.save uses for tensors and state dicts (protocol 2, plus
// the few protocol 4 ones), globals only from an allowlist, and nothing executed — REDUCE, NEWOBJ and
// BINPERSID are handed to callbacks that build plain data. Dicts become Maps, lists arrays, tuples
// frozen arrays, bytes Uint8Arrays, ints numbers (bigint past 2^53), None null.

export interface PickleGlobal {
  readonly kind: 'global';
  readonly module: string;
  readonly name: string;
}

export const isPickleGlobal = (v: unknown): v is PickleGlobal => !!v && typeof v === 'object' && (v as PickleGlobal).kind === 'global';
export const globalName = (g: PickleGlobal): string => `${g.module}.${g.name}`;

export interface UnpickleOptions {
  /** Named in every error. */
  file: string;
  /** Fully qualified globals that may appear ('collections.OrderedDict', ...); any other is refused. */
  allowed: ReadonlySet<string>;
  /** REDUCE / NEWOBJ of an allowlisted global: returns the value to push. */
  reduce: (fn: PickleGlobal, args: readonly unknown[]) => unknown;
  /** BINPERSID: turns a persistent id (a torch storage reference) into a value. */
  persistentLoad: (pid: unknown) => unknown;
  /** What the pickle is, for error messages (default: "the checkpoint's data.pkl"). */
  what?: string;
}

/** The pickle ends before its STOP: a reader holding only a prefix of the file may read more and retry. */
export class TruncatedPickleError extends WeightsFormatError {}

/** Bounds that keep hostile input from exhausting memory; legitimate state dicts stay far below. */
export const PICKLE_LIMITS = { stack: 1_000_000, marks: 100_000, memo: 4_000_000, lineBytes: 1024, longBytes: 1024 };

/** BUILD's state, kept beside the object it was meant for (never applied by running code). */
export const PICKLE_STATE = '__state__';

export function unpickle(bytes: Uint8Array, o: UnpickleOptions): unknown {
  return unpickleAt(bytes, 0, o).value;
}

/** The pickle starting at byte `start`, and the byte after its STOP (torch's legacy files are pickles in a row). */
export function unpickleAt(bytes: Uint8Array, start: number, o: UnpickleOptions): { value: unknown; end: number } {
  const damaged = `${o.what ?? "the checkpoint's data.pkl"} is damaged or was not written by torch.save`;
  const fail = (msg: string): never => {
    throw new WeightsFormatError(o.file, 'bad-pickle', `${msg}; ${damaged}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // torch.load decodes protocol-2 byte strings (Python 2's str) as UTF-8.
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let p = start;

  // Every length is checked against the bytes left before anything is allocated for it.
  const need = (n: number) => {
    if (n >= 0 && p + n > bytes.byteLength) {
      throw new TruncatedPickleError(o.file, 'bad-pickle', `truncated pickle: ${n} bytes needed at byte ${p} of ${bytes.byteLength}; ${damaged}`);
    }
    if (!(n >= 0)) fail(`a negative length at byte ${p}`);
  };
  const u8 = () => { need(1); return bytes[p++]; };
  const u16 = () => { need(2); const v = view.getUint16(p, true); p += 2; return v; };
  const i32 = () => { need(4); const v = view.getInt32(p, true); p += 4; return v; };
  const u32 = () => { need(4); const v = view.getUint32(p, true); p += 4; return v; };
  const u64 = () => { need(8); const v = view.getBigUint64(p, true); p += 8; return v > BigInt(bytes.byteLength) ? Infinity : Number(v); };
  const take = (n: number) => { need(n); const b = bytes.subarray(p, p + n); p += n; return b; };
  const text = (n: number) => decoder.decode(take(n));
  const line = () => {
    const end = bytes.subarray(p, p + PICKLE_LIMITS.lineBytes).indexOf(0x0a);
    if (end < 0 && p + PICKLE_LIMITS.lineBytes > bytes.byteLength) need(bytes.byteLength - p + 1);
    if (end < 0) fail(`unterminated or overlong text line at byte ${p}`);
    return text(end + 1).slice(0, -1);
  };
  const long = (n: number) => {
    if (n > PICKLE_LIMITS.longBytes) fail(`a ${n}-byte integer`);
    const b = take(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (n && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  // MARK starts a new frame (as CPython's metastack does), so finding the mark is O(1).
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  let below = 0;
  const push = (v: unknown) => {
    if (below + stack.length >= PICKLE_LIMITS.stack) fail(`more than ${PICKLE_LIMITS.stack} values on the pickle stack`);
    stack.push(v);
  };
  const pop = (): unknown => (stack.length ? stack.pop() : fail(`stack underflow at byte ${p - 1}`));
  const top = (): unknown => (stack.length ? stack[stack.length - 1] : fail(`stack underflow at byte ${p - 1}`));
  const mark = () => {
    if (metastack.length >= PICKLE_LIMITS.marks) fail(`more than ${PICKLE_LIMITS.marks} nested MARKs`);
    metastack.push(stack);
    below += stack.length;
    stack = [];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    stack = metastack.pop() ?? fail(`no MARK before byte ${p - 1}`);
    below -= stack.length;
    return items;
  };

  const memo = new Map<number, unknown>();
  const memoPut = (k: number, v: unknown) => {
    if (memo.size >= PICKLE_LIMITS.memo && !memo.has(k)) fail(`more than ${PICKLE_LIMITS.memo} memo entries`);
    memo.set(k, v);
  };
  const memoGet = (k: number) => (memo.has(k) ? memo.get(k) : fail(`memo entry ${k} is read before it is written`));

  const global = (module: string, name: string): PickleGlobal => {
    const full = `${module}.${name}`;
    if (!o.allowed.has(full)) {
      throw new WeightsFormatError(
        o.file, 'disallowed-global',
        `refusing to load global ${full}: only tensors and plain containers are read, and nothing is executed. ` +
        'If you trust the file, load it in Python and re-save just the state dict (torch.save(model.state_dict(), path)) or convert it to safetensors',
      );
    }
    return { kind: 'global', module, name };
  };
  const call = () => {
    const args = pop();
    const fn = pop();
    if (!isPickleGlobal(fn) || !Array.isArray(args)) fail(`REDUCE/NEWOBJ at byte ${p - 1} needs a global and an argument tuple`);
    push(o.reduce(fn as PickleGlobal, args as unknown[]));
  };
  const setItems = (d: unknown, kv: unknown[]) => {
    if (!(d instanceof Map)) fail(`SETITEM(S) on a ${describeValue(d)}, not a dict`);
    if (kv.length % 2) fail('SETITEMS with an odd number of values');
    for (let i = 0; i < kv.length; i += 2) (d as Map<unknown, unknown>).set(kv[i], kv[i + 1]);
  };
  const appendItems = (l: unknown, items: unknown[]) => {
    if (!Array.isArray(l) || Object.isFrozen(l)) fail(`APPEND(S) on a ${describeValue(l)}, not a list`);
    for (const v of items) (l as unknown[]).push(v);
  };
  const tuple = (items: unknown[]) => Object.freeze(items);

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: a length hint only
      case 0x2e: return { value: pop(), end: p }; // STOP
      case 0x28: mark(); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: push(top()); break; // DUP
      case 0x7d: push(new Map()); break; // EMPTY_DICT
      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x29: push(tuple([])); break; // EMPTY_TUPLE
      case 0x74: push(tuple(popMark())); break; // TUPLE
      case 0x85: push(tuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); push(tuple([pop(), b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); push(tuple([pop(), b, c])); break; } // TUPLE3
      case 0x4a: push(i32()); break; // BININT
      case 0x4b: push(u8()); break; // BININT1
      case 0x4d: push(u16()); break; // BININT2
      case 0x8a: push(long(u8())); break; // LONG1
      case 0x8b: push(long(u32())); break; // LONG4
      case 0x47: { need(8); push(view.getFloat64(p, false)); p += 8; break; } // BINFLOAT (big-endian)
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x8c: push(text(u8())); break; // SHORT_BINUNICODE
      case 0x58: push(text(u32())); break; // BINUNICODE
      case 0x8d: push(text(u64())); break; // BINUNICODE8
      case 0x55: push(text(u8())); break; // SHORT_BINSTRING (Python 2's str)
      case 0x54: { const n = i32(); push(text(n)); break; } // BINSTRING
      case 0x43: push(copyBytes(take(u8()))); break; // SHORT_BINBYTES
      case 0x42: push(copyBytes(take(u32()))); break; // BINBYTES
      case 0x8e: push(copyBytes(take(u64()))); break; // BINBYTES8
      case 0x71: memoPut(u8(), top()); break; // BINPUT
      case 0x72: memoPut(u32(), top()); break; // LONG_BINPUT
      case 0x94: memoPut(memo.size, top()); break; // MEMOIZE
      case 0x68: push(memoGet(u8())); break; // BINGET
      case 0x6a: push(memoGet(u32())); break; // LONG_BINGET
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x63: { const module = line(); push(global(module, line())); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        push(global(module as string, name as string));
        break;
      }
      case 0x52: call(); break; // REDUCE
      case 0x81: call(); break; // NEWOBJ (the class is allowlisted, so it is built like a call)
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        if (obj && typeof obj === 'object' && !Object.isFrozen(obj)) Object.defineProperty(obj, PICKLE_STATE, { value: state, configurable: true });
        break;
      }
      case 0x51: push(o.persistentLoad(pop())); break; // BINPERSID
      default:
        fail(
          `unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${p - 1} ` +
          '(only what torch.save writes for tensors and state dicts is read)',
        );
    }
  }
}

/** A short description of a pickled value for error messages (never throws, never prints much). */
export function describeValue(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof Map) return 'dict';
  if (Array.isArray(v)) return Object.isFrozen(v) ? `tuple of ${v.length}` : `list of ${v.length}`;
  if (v instanceof Uint8Array) return `bytes of ${v.length}`;
  if (isPickleGlobal(v)) return `global ${globalName(v)}`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'object';
  return String(v);
}
