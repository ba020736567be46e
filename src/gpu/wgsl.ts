// How WGSL becomes code, in one place: the bundled shader files and their `// #include` helpers, `{{KEY}}`
// specialisation, the kernel's declared parameters (`// #params`), kernels generated in TypeScript, the
// code caches and the names the profiler and compile records show.
import { shaderIncludes, shaderSources } from './shaders.gen.js';

// ---------------------------------------------------------------------------------------------------
// Parameters: declared once per kernel, emitted as the WGSL `struct Params` and packed into the
// read-only storage buffer `launch` binds last.

export type ParamScalar = 'u32' | 'i32' | 'f32';
/**
 * A scalar field, a fixed-length array of them (unused entries are zero), or — last field only — a
 * runtime-sized array ('*': as long as the values given, e.g. a shape then strides of any rank).
 */
export type ParamField = ParamScalar | readonly [ParamScalar, number | '*'];
export type ParamFields = Record<string, ParamField>;
export type ParamValues<F extends ParamFields> = {
  [K in keyof F]: F[K] extends readonly [ParamScalar, number | '*'] ? readonly number[] : number | boolean;
};

const scratch = new DataView(new ArrayBuffer(4));

function word(struct: string, field: string, type: ParamScalar, v: number | boolean): number {
  const x = typeof v === 'boolean' ? (v ? 1 : 0) : v;
  if (type === 'f32') {
    scratch.setFloat32(0, x, true);
    return scratch.getUint32(0, true);
  }
  if (!Number.isInteger(x)) throw new Error(`cflens: ${struct}.${field} (${type}) must be an integer, got ${x}`);
  if (type === 'u32') {
    if (x < 0 || x > 0xffffffff) throw new Error(`cflens: ${struct}.${field} (u32) out of range: ${x}`);
    return x;
  }
  if (x < -0x80000000 || x > 0x7fffffff) throw new Error(`cflens: ${struct}.${field} (i32) out of range: ${x}`);
  return x >>> 0;
}

/**
 * A kernel's parameters: field names and types in WGSL order. `wgsl` is the `struct Params` the shader
 * gets where it says `// #params`; `pack` turns values into the words `launch` uploads. Every field is
 * 4 bytes (or an array of them), so the storage layout is the field order with no padding.
 */
export class KernelParams<F extends ParamFields> {
  readonly wgsl: string;
  readonly words: number;
  private readonly names: (keyof F & string)[];

  constructor(readonly name: string, readonly fields: F) {
    this.names = Object.keys(fields) as (keyof F & string)[];
    if (!this.names.length) throw new Error(`cflens: ${name} declares no fields`);
    let words = 0;
    const lines = this.names.map((k, at) => {
      const t = fields[k];
      if (typeof t === 'string') {
        words += 1;
        return `  ${k}: ${t},`;
      }
      const [s, n] = t as readonly [ParamScalar, number | '*'];
      if (n === '*') {
        if (at !== this.names.length - 1) throw new Error(`cflens: ${name}.${k}: a runtime-sized array must be the last field`);
        return `  ${k}: array<${s}>,`;
      }
      if (!Number.isInteger(n) || n < 1) throw new Error(`cflens: ${name}.${k}: array length ${n}`);
      words += n;
      return `  ${k}: array<${s}, ${n}>,`;
    });
    this.words = words;
    this.wgsl = `// ${name}, declared in TypeScript (defineParams)\nstruct Params {\n${lines.join('\n')}\n}`;
  }

  pack(values: ParamValues<F>): Uint32Array {
    const last = this.names[this.names.length - 1];
    const lastType = this.fields[last];
    const tail = typeof lastType !== 'string' && lastType[1] === '*' ? ((values[last] as readonly number[] | undefined)?.length ?? 0) : 0;
    // A runtime-sized array needs at least one element in the binding.
    const out = new Uint32Array(Math.max(4, this.words + Math.max(tail, typeof lastType !== 'string' && lastType[1] === '*' ? 1 : 0)));
    let at = 0;
    for (const k of this.names) {
      const t = this.fields[k];
      const v = values[k] as number | boolean | readonly number[] | undefined;
      if (v === undefined) throw new Error(`cflens: ${this.name}.${k} has no value`);
      if (typeof t === 'string') {
        out[at++] = word(this.name, k, t, v as number | boolean);
        continue;
      }
      const [s, len] = t as readonly [ParamScalar, number | '*'];
      const arr = v as readonly number[];
      const n = len === '*' ? arr.length : len;
      if (arr.length > n) throw new Error(`cflens: ${this.name}.${k} holds ${n} values, got ${arr.length}`);
      for (let i = 0; i < n; i++) out[at + i] = i < arr.length ? word(this.name, `${k}[${i}]`, s, arr[i]) : 0;
      at += n;
    }
    return out;
  }
}

/** What building code needs of a KernelParams: its name and struct. */
export interface ParamsDecl { readonly name: string; readonly wgsl: string }

/** Declares a kernel's parameters (see KernelParams). */
export function defineParams<F extends ParamFields>(name: string, fields: F): KernelParams<F> {
  return new KernelParams(name, fields);
}

// ---------------------------------------------------------------------------------------------------
// Sources: shaders/<name>.wgsl and shaders/include/<name>.wgsl, bundled by `npm run shaders`.

const INCLUDE = /^\/\/ #include (\w+)[ \t]*$/gm;
const PARAMS = /^\/\/ #params\b.*$/m;

const expanded = new Map<string, string>();

/** shaders/include/<name>.wgsl with its own includes expanded. */
export function include(name: string, from = name): string {
  const text = shaderIncludes[name];
  if (text === undefined) throw new Error(`cflens: ${from}: #include ${name}: no shaders/include/${name}.wgsl`);
  return expandIncludes(text.trimEnd(), `include/${name}`);
}

function expandIncludes(text: string, from: string, depth = 0): string {
  if (depth > 8) throw new Error(`cflens: ${from}: includes nested deeper than 8 (a cycle?)`);
  return text.replace(INCLUDE, (_, name: string) => {
    const inc = shaderIncludes[name];
    if (inc === undefined) throw new Error(`cflens: ${from}: #include ${name}: no shaders/include/${name}.wgsl`);
    return expandIncludes(inc.trimEnd(), `include/${name}`, depth + 1);
  });
}

/** shaders/<name>.wgsl with its includes expanded (not yet specialised). */
export function shaderSource(name: string): string {
  let text = expanded.get(name);
  if (text !== undefined) return text;
  const raw = shaderSources[name];
  if (raw === undefined) throw new Error(`cflens: no shader named ${name} in shaders/`);
  text = expandIncludes(raw, name);
  expanded.set(name, text);
  return text;
}

/** Puts a params struct where the source says `// #params`; both or neither must be present. */
export function withParams(name: string, code: string, params?: ParamsDecl): string {
  const has = PARAMS.test(code);
  if (!params && has) throw new Error(`cflens: shader ${name} declares // #params but was given no KernelParams`);
  if (params && !has) throw new Error(`cflens: shader ${name} was given ${params.name} but has no // #params line`);
  return params ? code.replace(PARAMS, () => params.wgsl) : code;
}

// ---------------------------------------------------------------------------------------------------
// Specialised code, cached, with the names profiles and compile records show.

const filled = new Map<string, string>();
/** Kernel name of each code string, for the profiler. */
const nameOf = new Map<string, string>();
/** What specialised each code string (fill values), for compile records. */
const fillOf = new Map<string, string>();

/**
 * The code of shaders/<name>.wgsl: includes expanded, `params`' struct at `// #params`, `{{KEY}}`
 * placeholders filled. The same inputs give the same string object (the pipeline cache keys on it).
 */
export function shader(name: string, fill: Record<string, string | number> = {}, params?: ParamsDecl): string {
  const key = `${name}|${params?.name ?? ''}|${JSON.stringify(fill)}`;
  let code = filled.get(key);
  if (code) return code;
  code = withParams(name, shaderSource(name), params).replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    if (!(k in fill)) throw new Error(`cflens: shader ${name} needs a value for {{${k}}}`);
    return String(fill[k]);
  });
  filled.set(key, code);
  nameOf.set(code, name);
  if (Object.keys(fill).length) fillOf.set(code, JSON.stringify(fill));
  return code;
}

const generatedCodes = new Map<string, string>();

/**
 * A kernel written by a TypeScript generator: `build()` runs once per (family, key); the code is named
 * `label` in profiles. Generators take their helpers from `include` and their struct from KernelParams.
 */
export function generated(family: string, key: string, label: string, build: () => string): string {
  const k = `${family}|${key}`;
  let code = generatedCodes.get(k);
  if (code) return code;
  code = build();
  generatedCodes.set(k, code);
  nameOf.set(code, label);
  return code;
}

/** The code `generated(family, key, …)` built, if it has been. */
export function generatedCode(family: string, key: string): string | undefined {
  return generatedCodes.get(`${family}|${key}`);
}

/** The profiler name of a kernel plus what specialised it. */
export function kernelLabel(code: string, entry = 'main'): { name: string; variant: string } {
  return { name: kernelName(code, entry), variant: fillOf.get(code) ?? '' };
}

export function kernelName(code: string, entry = 'main'): string {
  const name = nameOf.get(code) ?? 'inline';
  return entry === 'main' ? name : `${name}:${entry}`;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** The bit pattern of an f32 (for code that still packs words by hand). */
export function f32bits(x: number): number {
  f32[0] = x;
  return u32[0];
}

/**
 * Expands `for (var i = 0u; i < BOUND; i++) { body }` where BOUND is a literal or a name in `consts`:
 * the body is repeated with `i` replaced by each value (innermost scopes kept by braces). Drivers do
 * not always unroll such loops, and an array indexed by a loop counter then lives in memory.
 */
export function unrollLoops(code: string, consts: Record<string, number>): string {
  const head = /for \(var (\w+) = 0u; \1 < (\w+); \1\+\+\) \{/g;
  for (;;) {
    head.lastIndex = 0;
    let m: RegExpExecArray | null;
    let found = false;
    while ((m = head.exec(code))) {
      const bound = /^\d+u?$/.test(m[2]) ? parseInt(m[2], 10) : consts[m[2]];
      if (bound === undefined) continue;
      // matching closing brace of the loop body
      let depth = 1;
      let i = m.index + m[0].length;
      for (; depth > 0; i++) {
        if (code[i] === '{') depth++;
        else if (code[i] === '}') depth--;
      }
      const body = code.slice(m.index + m[0].length, i - 1);
      const v = new RegExp(`\\b${m[1]}\\b`, 'g');
      const copies = Array.from({ length: bound }, (_, k) => `{${body.replace(v, `${k}u`)}}`).join('\n');
      code = code.slice(0, m.index) + copies + code.slice(i);
      found = true;
      break;
    }
    if (!found) return code;
  }
}
