// The engine's tuning switches, in one registry per GPU context: kernel and algorithm choices that
// tests, benchmarks and users force (conv2d's algorithm, the matmul kernel, attention's family...).
// Each op module declares its switches with defineFlag (name, default, CFLENS_* variable, meaning) and
// adds their types to FlagValues by declaration merging; ctx.flags.get(name) reads one, withFlags
// sets some for the duration of a function. docs/flags.md lists them all (a test keeps it in sync).
import { env } from './env.js';

/** Every switch's type, by name; op modules add theirs (`declare module '../gpu/flags.js'`). */
export interface FlagValues {}
export type FlagName = keyof FlagValues;

export interface FlagDef<K extends FlagName> {
  name: K;
  default: FlagValues[K];
  /** What it switches, for docs/flags.md. */
  doc: string;
  /** A CFLENS_* variable that sets it, read once per context, and its parser (throws on bad values). */
  env?: { name: string; parse(value: string): FlagValues[K] };
}

const defs = new Map<string, FlagDef<FlagName>>();

/** Declares a switch (once, at module load); returns its name. */
export function defineFlag<K extends FlagName>(def: FlagDef<K>): K {
  defs.set(def.name, def as unknown as FlagDef<FlagName>);
  return def.name;
}

/** A parser for a variable that takes one of `choices`. */
export function oneOf<T extends string>(variable: string, choices: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(choices as readonly string[]).includes(v)) throw new Error(`cflens: ${variable}=${v}: expected one of ${choices.join(', ')}`);
    return v as T;
  };
}

/** The switches of one context: explicit values over CFLENS_* variables over defaults. */
export class Flags {
  private readonly values = new Map<string, unknown>();
  private readonly fromEnv = new Map<string, unknown>();

  get<K extends FlagName>(name: K): FlagValues[K] {
    if (this.values.has(name)) return this.values.get(name) as FlagValues[K];
    const def = defs.get(name);
    if (!def) throw new Error(`cflens: no flag named '${String(name)}'`);
    if (def.env) {
      if (!this.fromEnv.has(name)) {
        const v = env(def.env.name);
        this.fromEnv.set(name, v === undefined ? undefined : def.env.parse(v));
      }
      const v = this.fromEnv.get(name);
      if (v !== undefined) return v as FlagValues[K];
    }
    return def.default as FlagValues[K];
  }

  /** Sets switches explicitly (undefined: back to the variable or default); returns the previous explicit values. */
  set(values: Partial<FlagValues>): Partial<FlagValues> {
    const before: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(values)) {
      if (!defs.has(k)) throw new Error(`cflens: no flag named '${k}' (known: ${[...defs.keys()].sort().join(', ')})`);
      before[k] = this.values.get(k);
      if (v === undefined) this.values.delete(k);
      else this.values.set(k, v);
    }
    return before as Partial<FlagValues>;
  }
}

export interface FlagRow { name: string; default: string; env: string; doc: string }

/** Every declared switch, for the docs table. */
export function describeFlags(): FlagRow[] {
  return [...defs.values()].sort((a, b) => a.name.localeCompare(b.name)).map((d) => ({
    name: d.name, default: JSON.stringify(d.default), env: d.env?.name ?? '', doc: d.doc,
  }));
}

/** Runs `fn` with some switches set on `flags`, restoring the previous ones after (also when it throws or rejects). */
export function withFlagsOn<T>(flags: Flags, values: Partial<FlagValues>, fn: () => T): T {
  const before = flags.set(values);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    flags.set(before);
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => flags.set(before)) as T;
  flags.set(before);
  return result;
}
