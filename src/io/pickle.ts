import { WeightsFormatError } from './errors.js';

// A restricted pickle reader: the opcodes a torch state dict uses, globals from an allowlist, nothing
// executed. Reduced objects become plain data or placeholders the caller resolves.

export interface PickleGlobal { kind: 'global'; module: string; name: string }
export interface PickleReduced { kind: 'reduced'; fn: string; args: unknown[] }
export interface PersistentId { kind: 'persid'; value: unknown }

const MARK = Symbol('mark');
const MAX_STACK = 1_000_000;
const MAX_MEMO = 10_000_000;

export interface UnpickleOptions {
  file: string;
  /** Fully qualified globals that may appear ('collections.OrderedDict', ...). */
  allowed: ReadonlySet<string>;
  /** Turns an allowlisted call into a value (e.g. OrderedDict() → Map). */
  reduce: (fn: string, args: unknown[]) => unknown;
  /** Turns a persistent id (a torch storage reference) into a value. */
  persistentLoad: (pid: unknown) => unknown;
}

export function unpickle(bytes: Uint8Array, o: UnpickleOptions): unknown {
  const fail = (msg: string): never => {
    throw new WeightsFormatError(o.file, 'bad-pickle', msg);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  const need = (n: number) => {
    if (n < 0 || p + n > bytes.byteLength) fail(`truncated pickle: ${n} bytes needed at ${p} of ${bytes.byteLength}`);
  };
  const u8 = () => { need(1); return bytes[p++]; };
  const u16 = () => { need(2); const v = view.getUint16(p, true); p += 2; return v; };
  const i32 = () => { need(4); const v = view.getInt32(p, true); p += 4; return v; };
  const u32 = () => { need(4); const v = view.getUint32(p, true); p += 4; return v; };
  const u64 = () => { need(8); const v = Number(view.getBigUint64(p, true)); p += 8; return v; };
  const str = (n: number) => { need(n); const s = new TextDecoder().decode(bytes.subarray(p, p + n)); p += n; return s; };
  const line = () => {
    const end = bytes.indexOf(0x0a, p);
    if (end < 0 || end - p > 1000) fail('unterminated text line in pickle');
    const s = new TextDecoder().decode(bytes.subarray(p, end));
    p = end + 1;
    return s;
  };

  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  const push = (v: unknown) => {
    if (stack.length >= MAX_STACK) fail('pickle stack too deep');
    stack.push(v);
  };
  const pop = () => (stack.length ? stack.pop() : fail('pickle stack underflow'));
  const top = () => (stack.length ? stack[stack.length - 1] : fail('pickle stack underflow'));
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail('pickle MARK missing');
    const items = stack.slice(i + 1);
    stack.length = i;
    return items;
  };
  const global = (module: string, name: string): PickleGlobal => {
    const full = `${module}.${name}`;
    if (!o.allowed.has(full)) throw new WeightsFormatError(o.file, 'disallowed-global', `refusing to load global ${full}: only tensors and state dicts can be read (nothing is executed)`);
    return { kind: 'global', module, name };
  };
  const setItem = (d: unknown, k: unknown, v: unknown) => {
    if (d instanceof Map) d.set(k, v);
    else if (d && typeof d === 'object' && !Array.isArray(d)) (d as Record<string, unknown>)[String(k)] = v;
    else fail('SETITEM on a non-dict');
  };
  const memoPut = (v: unknown) => {
    if (memo.size >= MAX_MEMO) fail('pickle memo too large');
    memo.set(memo.size, v);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME
      case 0x7d: push(new Map()); break; // EMPTY_DICT
      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x29: push([]); break; // EMPTY_TUPLE
      case 0x28: push(MARK); break; // MARK
      case 0x74: push(popMark()); break; // TUPLE
      case 0x85: push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); push([a, b]); break; }
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); push([a, b, c]); break; }
      case 0x4a: push(i32()); break; // BININT
      case 0x4b: push(u8()); break; // BININT1
      case 0x4d: push(u16()); break; // BININT2
      case 0x8a: { // LONG1
        const n = u8();
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[p + i]);
        if (n && bytes[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        push(Number(v));
        break;
      }
      case 0x47: { need(8); push(view.getFloat64(p, false)); p += 8; break; } // BINFLOAT
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break;
      case 0x89: push(false); break;
      case 0x58: push(str(u32())); break; // BINUNICODE
      case 0x8c: push(str(u8())); break; // SHORT_BINUNICODE
      case 0x8d: push(str(u64())); break; // BINUNICODE8
      case 0x43: { const n = u8(); need(n); push(bytes.slice(p, p + n)); p += n; break; } // SHORT_BINBYTES
      case 0x42: { const n = u32(); need(n); push(bytes.slice(p, p + n)); p += n; break; } // BINBYTES
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memoPut(top()); break; // MEMOIZE
      case 0x68: { const k = u8(); if (!memo.has(k)) fail(`pickle memo ${k} missing`); push(memo.get(k)); break; }
      case 0x6a: { const k = u32(); if (!memo.has(k)) fail(`pickle memo ${k} missing`); push(memo.get(k)); break; }
      case 0x73: { const v = pop(); const k = pop(); setItem(top(), k, v); break; } // SETITEM
      case 0x75: { const items = popMark(); const d = top(); for (let i = 0; i + 1 < items.length; i += 2) setItem(d, items[i], items[i + 1]); break; }
      case 0x61: { const v = pop(); const l = top(); if (!Array.isArray(l)) fail('APPEND on a non-list'); (l as unknown[]).push(v); break; }
      case 0x65: { const items = popMark(); const l = top(); if (!Array.isArray(l)) fail('APPENDS on a non-list'); (l as unknown[]).push(...items); break; }
      case 0x63: { const module = line(); const name = line(); push(global(module, name)); break; } // GLOBAL
      case 0x93: { const name = pop(); const module = pop(); if (typeof name !== 'string' || typeof module !== 'string') fail('STACK_GLOBAL needs two strings'); push(global(module as string, name as string)); break; }
      case 0x52: case 0x81: { // REDUCE, NEWOBJ
        const args = pop();
        const fn = pop() as PickleGlobal;
        if (!fn || (fn as PickleGlobal).kind !== 'global' || !Array.isArray(args)) fail('REDUCE needs a global and an argument tuple');
        push(o.reduce(`${fn.module}.${fn.name}`, args as unknown[]));
        break;
      }
      case 0x62: { // BUILD: state for an object; kept aside, never applied by running code
        const state = pop();
        const obj = top();
        if (obj instanceof Map || (obj && typeof obj === 'object')) Object.defineProperty(obj, '__state__', { value: state, enumerable: false, configurable: true });
        break;
      }
      case 0x51: push(o.persistentLoad(pop())); break; // BINPERSID
      case 0x2e: return pop(); // STOP
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16)} at byte ${p - 1}`);
    }
  }
}
