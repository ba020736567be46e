// A strict JSON parser for safetensors headers. JSON.parse cannot serve: it keeps the last of two
// equal keys, reads 2.0 as 2, and lets a key named __proto__ through. This one refuses repeated keys,
// keeps each number's text, and refuses what serde_json (the reference reader) refuses: lone surrogate
// escapes, raw control characters in strings, numbers beyond f64's range, and more than 127 nested
// arrays and objects.

/** A number as written, so that a caller can require an integer literal (2, not 2.0 or 2e0). */
export class JsonNumber {
  constructor(readonly text: string) {}

  /** Digits only: no sign, fraction or exponent (the grammar already forbids leading zeros). */
  get isUnsignedInteger(): boolean {
    return /^[0-9]+$/.test(this.text);
  }

  get value(): number {
    return Number(this.text);
  }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
/** Keys in the order written; a Map, so no key can reach Object.prototype. */
export type JsonObject = Map<string, JsonValue>;

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    /** Index of the offending character in the text. */
    readonly at: number,
    /** Set when the fault is a repeated key: the key and the keys leading to its object. */
    readonly duplicate?: { key: string; path: readonly string[] },
  ) {
    super(message);
  }
}

/** serde_json's recursion limit (128) leaves room for 127 open arrays and objects. */
const MAX_NESTING = 127;
const ESCAPES = new Map(Object.entries({ '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }));
const LITERALS: ReadonlyArray<[string, JsonValue]> = [['true', true], ['false', false], ['null', null]];
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

export function parseStrictJson(text: string): JsonValue {
  let i = 0;
  const path: string[] = [];
  const fail = (what: string, at = i): never => {
    throw new JsonSyntaxError(`${what} at character ${at}`, at);
  };
  const skipSpace = () => {
    for (let c = text.charCodeAt(i); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = text.charCodeAt(++i));
  };

  const hex4 = (): number => {
    const h = text.slice(i, i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('a \\u escape needs four hex digits');
    i += 4;
    return parseInt(h, 16);
  };

  const string = (): string => {
    const start = i++;
    let out = '';
    let run = i;
    for (;;) {
      const c = text.charCodeAt(i);
      if (Number.isNaN(c)) fail('unterminated string', start);
      if (c === 0x22) break;
      if (c < 0x20) fail('a control character inside a string (write it as an escape)');
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(run, i);
      const e = text[i + 1];
      i += 2;
      const simple = ESCAPES.get(e ?? '');
      if (simple !== undefined) out += simple;
      else if (e === 'u') {
        const at = i - 2;
        const u = hex4();
        if (u >= 0xdc00 && u <= 0xdfff) fail('a lone low surrogate escape', at);
        if (u >= 0xd800 && u <= 0xdbff) {
          if (text.slice(i, i + 2) !== '\\u') fail('a lone high surrogate escape', at);
          i += 2;
          const low = hex4();
          if (low < 0xdc00 || low > 0xdfff) fail('a high surrogate escape not followed by a low one', at);
          out += String.fromCharCode(u, low);
        } else out += String.fromCharCode(u);
      } else fail(`an invalid escape '\\${e ?? ''}'`, i - 2);
      run = i;
    }
    out += text.slice(run, i);
    i++;
    return out;
  };

  const value = (depth: number): JsonValue => {
    skipSpace();
    const c = text[i];
    if (c === '{' || c === '[') {
      if (depth >= MAX_NESTING) fail(`more than ${MAX_NESTING} nested arrays and objects`);
      return c === '{' ? object(depth + 1) : array(depth + 1);
    }
    if (c === '"') return string();
    for (const [lit, v] of LITERALS) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return v;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) return fail(c === undefined ? 'unexpected end of the text' : `unexpected '${c}'`);
    if (!Number.isFinite(Number(m[0]))) fail('a number beyond the range of a 64-bit float');
    i += m[0].length;
    return new JsonNumber(m[0]);
  };

  const array = (depth: number): JsonValue[] => {
    i++;
    const out: JsonValue[] = [];
    skipSpace();
    if (text[i] !== ']') {
      for (;;) {
        out.push(value(depth));
        skipSpace();
        if (text[i] === ']') break;
        if (text[i] !== ',') fail("expected ',' or ']'");
        i++;
      }
    }
    i++;
    return out;
  };

  const object = (depth: number): JsonObject => {
    i++;
    const out: JsonObject = new Map();
    skipSpace();
    if (text[i] !== '}') {
      for (;;) {
        skipSpace();
        if (text[i] !== '"') fail('expected a string key');
        const at = i;
        const key = string();
        if (out.has(key)) throw new JsonSyntaxError(`the key ${JSON.stringify(key)} appears twice (character ${at})`, at, { key, path: [...path] });
        skipSpace();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        path.push(key);
        out.set(key, value(depth));
        path.pop();
        skipSpace();
        if (text[i] === '}') break;
        if (text[i] !== ',') fail("expected ',' or '}'");
        i++;
      }
    }
    i++;
    return out;
  };

  const result = value(0);
  skipSpace();
  if (i < text.length) fail('unexpected text after the JSON value');
  return result;
}
