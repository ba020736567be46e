import { describe, expect, it } from 'vitest';
import { WeightsFormatError } from '../../src/io/index.js';
import { PICKLE_LIMITS, PICKLE_STATE, TruncatedPickleError, unpickle, unpickleAt, type PickleGlobal } from '../../src/io/pickle.js';
import { Pickle } from './pickle-builder.js';

const calls: Array<[string, readonly unknown[]]> = [];
const load = (p: Pickle | Uint8Array, allowed: string[] = []) =>
  unpickle(p instanceof Pickle ? p.bytes() : p, {
    file: 'test.pkl',
    allowed: new Set(allowed),
    reduce: (fn: PickleGlobal, args) => {
      calls.push([`${fn.module}.${fn.name}`, args]);
      return { called: `${fn.module}.${fn.name}`, args };
    },
    persistentLoad: (pid) => ({ persistent: pid }),
  });
const codeOf = (f: () => unknown) => {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof WeightsFormatError) return e.code;
    throw e;
  }
};

describe('restricted unpickler', () => {
  it('reads numbers, strings, bytes and constants in every encoding torch.save uses', () => {
    const p = new Pickle().proto(2).mark()
      .int(7).int(300).int(-5).int(2 ** 31 - 1).long(2n ** 40n).long(-(2n ** 70n)).long(0n).op(0x8b, 2, 0, 0, 0, 0xff, 0x7f) // LONG4 32767
      .float(-1.25).none().bool(true).bool(false)
      .str('unicode ✓').shortStr('short').op(0x8d, 3, 0, 0, 0, 0, 0, 0, 0, 0x61, 0x62, 0x63) // BINUNICODE8
      .op(0x43, 2, 1, 2).op(0x42, 1, 0, 0, 0, 9).op(0x8e, 1, 0, 0, 0, 0, 0, 0, 0, 8) // SHORT_BINBYTES, BINBYTES, BINBYTES8
      .op(0x74).stop();
    expect(load(p)).toEqual([
      7, 300, -5, 2 ** 31 - 1, 2 ** 40, -(2n ** 70n), 0, 32767, -1.25, null, true, false,
      'unicode ✓', 'short', 'abc', Uint8Array.of(1, 2), Uint8Array.of(9), Uint8Array.of(8),
    ]);
  });

  it('builds dicts, lists and (frozen) tuples, with memo references shared', () => {
    const p = new Pickle().proto(4).op(0x95, 0, 0, 0, 0, 0, 0, 0, 0) // FRAME
      .op(0x7d).put(0).mark() // {
      .str('list').op(0x5d).op(0x94) /* MEMOIZE as 1 */.int(1).op(0x61).mark().int(2).int(3).op(0x65) // [1, 2, 3]
      .str('tuple').int(1).int(2).tuple(2).put(300)
      .str('again').get(300)
      .str('same-list').op(0x6a, 1, 0, 0, 0) // LONG_BINGET 1
      .op(0x75) // }
      .stop();
    const d = load(p) as Map<string, unknown>;
    expect(d).toBeInstanceOf(Map);
    expect(d.get('list')).toEqual([1, 2, 3]);
    expect(d.get('same-list')).toBe(d.get('list'));
    expect(d.get('again')).toBe(d.get('tuple'));
    expect(Object.isFrozen(d.get('tuple'))).toBe(true);
  });

  it('supports POP, POP_MARK, DUP, STACK_GLOBAL, NEWOBJ, BUILD and BINPERSID without running anything', () => {
    calls.length = 0;
    const p = new Pickle().proto(2).mark().int(1).int(2).op(0x31).int(9).op(0x30)
      .stackGlobal('collections', 'OrderedDict').tuple(0).op(0x81) // NEWOBJ
      .op(0x32).op(0x30) // DUP, POP
      .op(0x7d).str('_metadata').str('v').op(0x73).op(0x62) // BUILD with a dict state
      .str('k').op(0x85).op(0x51) // BINPERSID ('k',)
      .tuple(2).stop();
    const [obj, pid] = load(p, ['collections.OrderedDict']) as [Record<string, unknown>, unknown];
    expect(obj.called).toBe('collections.OrderedDict');
    expect((obj[PICKLE_STATE] as Map<string, string>).get('_metadata')).toBe('v');
    expect(pid).toEqual({ persistent: ['k'] });
    expect(calls).toEqual([['collections.OrderedDict', []]]);
  });

  for (const [module, name] of [
    ['os', 'system'], ['posix', 'system'], ['nt', 'system'], ['builtins', 'eval'], ['__builtin__', 'eval'], ['subprocess', 'Popen'], ['torch', 'load'],
  ]) {
    it(`refuses global ${module}.${name} by name, through GLOBAL and STACK_GLOBAL, before any call`, () => {
      for (const p of [new Pickle().proto(2).global(module, name), new Pickle().proto(4).stackGlobal(module, name)]) {
        calls.length = 0;
        p.str('echo pwned').tuple(1).op(0x52).stop();
        const err = (() => { try { load(p, ['collections.OrderedDict']); } catch (e) { return e as WeightsFormatError; } })();
        expect(err).toBeInstanceOf(WeightsFormatError);
        expect(err!.code).toBe('disallowed-global');
        expect(err!.message).toContain(`refusing to load global ${module}.${name}`);
        expect(calls).toEqual([]);
      }
    });
  }

  it('reads Python 2 byte strings (SHORT_BINSTRING, BINSTRING) as UTF-8 text, as torch.load does', () => {
    const p = new Pickle().proto(2).mark().op(0x55, 3, 0x61, 0x62, 0x63).op(0x54, 2, 0, 0, 0, 0xc3, 0xa9).op(0x74).stop();
    expect(load(p)).toEqual(['abc', 'é']);
  });

  it('reads pickles in a row, each from where the last ended (torch\'s legacy layout)', () => {
    const a = new Pickle().proto(2).int(1001).stop().bytes();
    const b = new Pickle().proto(2).str('next').stop().bytes();
    const bytes = Uint8Array.from([...a, ...b, 0xff]);
    const first = unpickleAt(bytes, 0, { file: 'x', allowed: new Set(), reduce: () => null, persistentLoad: () => null });
    expect(first).toEqual({ value: 1001, end: a.length });
    expect(unpickleAt(bytes, first.end, { file: 'x', allowed: new Set(), reduce: () => null, persistentLoad: () => null }))
      .toEqual({ value: 'next', end: a.length + b.length });
  });

  it('tells a pickle that ends too soon (a reader holding a prefix may read more) from a damaged one', () => {
    const errorOf = (p: Pickle) => { try { load(p); } catch (e) { return e; } return undefined; };
    for (const cut of [new Pickle().proto(2).int(1), new Pickle().proto(2).op(0x58, 10, 0, 0, 0, 0x61), new Pickle().proto(2).op(0x63, 0x61, 0x62)]) {
      const err = errorOf(cut);
      expect(err).toBeInstanceOf(TruncatedPickleError);
      expect((err as WeightsFormatError).code).toBe('bad-pickle');
    }
    for (const bad of [new Pickle().proto(2).op(0x69).stop(), new Pickle().proto(2).op(0x54, 0xff, 0xff, 0xff, 0xff).stop()]) {
      const err = errorOf(bad);
      expect((err as WeightsFormatError).code).toBe('bad-pickle');
      expect(err).not.toBeInstanceOf(TruncatedPickleError);
    }
  });

  const malformed: Array<[string, Pickle | Uint8Array]> = [
    ['an empty pickle', new Uint8Array(0)],
    ['a pickle without STOP', new Pickle().proto(2).int(1)],
    ['STOP on an empty stack', new Pickle().proto(2).stop()],
    ['an unsupported opcode (INST)', new Pickle().proto(2).op(0x69).stop()],
    ['a string longer than the pickle', new Pickle().proto(2).op(0x58, 0xff, 0xff, 0xff, 0x7f).stop()],
    ['BINUNICODE8 claiming 2^62 bytes', new Pickle().proto(4).op(0x8d, 0, 0, 0, 0, 0, 0, 0, 0x40).stop()],
    ['BINBYTES8 claiming 2^64-1 bytes', new Pickle().proto(4).op(0x8e, 255, 255, 255, 255, 255, 255, 255, 255).stop()],
    ['a LONG4 of 2 GB', new Pickle().proto(2).op(0x8b, 0, 0, 0, 0x80).stop()],
    ['a GLOBAL line without newline', new Pickle().proto(2).op(0x63, 0x61, 0x62).stop()],
    ['a GLOBAL line of 5000 bytes', new Pickle().proto(2).op(0x63, ...new Array(5000).fill(0x61), 10, 0x61, 10).stop()],
    ['a memo read before written', new Pickle().proto(2).get(5).stop()],
    ['SETITEM on a list', new Pickle().proto(2).op(0x5d).int(1).int(2).op(0x73).stop()],
    ['APPEND on a tuple', new Pickle().proto(2).tuple(0).int(1).op(0x61).stop()],
    ['APPEND on a dict', new Pickle().proto(2).op(0x7d).int(1).op(0x61).stop()],
    ['SETITEMS with an odd count', new Pickle().proto(2).op(0x7d).mark().int(1).op(0x75).stop()],
    ['TUPLE without MARK', new Pickle().proto(2).int(1).op(0x74).stop()],
    ['REDUCE of a non-global', new Pickle().proto(2).int(1).tuple(0).op(0x52).stop()],
    ['STACK_GLOBAL of numbers', new Pickle().proto(4).int(1).int(2).op(0x93).stop()],
    ['a stack underflow', new Pickle().proto(2).op(0x86).stop()],
    ['BINSTRING with a negative length', new Pickle().proto(2).op(0x54, 0xfe, 0xff, 0xff, 0xff).stop()],
  ];
  it.each(malformed)('rejects %s with a typed error', (_, p) => {
    expect(codeOf(() => load(p, ['collections.OrderedDict']))).toBe('bad-pickle');
  });

  it('bounds the stack, the MARK depth and the memo', () => {
    const saved = { ...PICKLE_LIMITS };
    try {
      Object.assign(PICKLE_LIMITS, { stack: 1000, marks: 100, memo: 1000 });
      const ops = (op: number, n: number) => Uint8Array.from([0x80, 2, 0x4e, ...new Array(n).fill(op), 0x2e]);
      expect(codeOf(() => load(ops(0x32, 999)))).toBe('ok'); // DUP: 1000 values
      expect(() => load(ops(0x32, 1000))).toThrow(/more than 1000 values on the pickle stack/);
      expect(() => load(ops(0x28, 101))).toThrow(/more than 100 nested MARKs/);
      expect(codeOf(() => load(ops(0x94, 1000)))).toBe('ok'); // MEMOIZE
      expect(() => load(ops(0x94, 1001))).toThrow(/more than 1000 memo entries/);
    } finally {
      Object.assign(PICKLE_LIMITS, saved);
    }
    // At the real limits, a hostile 2 MB pickle is refused quickly.
    const t0 = performance.now();
    const dup = new Uint8Array(PICKLE_LIMITS.stack + 10).fill(0x32);
    dup.set([0x80, 2, 0x4e]);
    expect(codeOf(() => load(dup))).toBe('bad-pickle');
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});
