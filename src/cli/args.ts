// Strict command-line options: an unknown flag, a misspelling, a missing value or a number out of range
// is a usage error naming it — never silently ignored or changed.
import { parseArgs } from 'node:util';

export class UsageError extends Error {}

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Integer options: the smallest value allowed. */
  min?: number;
  integer?: boolean;
  choices?: readonly string[];
}

export interface Parsed {
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}

/** Parses `args` for `command` against `spec`; `positionals` is how many plain arguments it takes. */
export function parseCommand(command: string, args: string[], spec: Record<string, OptionSpec>, positionals = 0): Parsed {
  let parsed: ReturnType<typeof parseArgs>;
  const known = Object.keys(spec).map((k) => `--${k}`).join(', ') || '(none)';
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: positionals > 0,
      options: Object.fromEntries(Object.entries(spec).map(([k, s]) => [k, { type: s.type }])),
    });
  } catch (e) {
    const m = (e as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(m);
    if (unknown) throw new UsageError(`cflens ${command}: unknown option ${unknown[1]} (options: ${known})`);
    const missing = /Option '(--[\w-]+)[^']*' argument (missing|is ambiguous)/.exec(m);
    if (missing) throw new UsageError(`cflens ${command}: ${missing[1]} needs a value`);
    const positional = /Unexpected argument '([^']+)'/.exec(m);
    if (positional) throw new UsageError(`cflens ${command}: unexpected argument '${positional[1]}'`);
    throw new UsageError(`cflens ${command}: ${m}`);
  }
  if (parsed.positionals.length > positionals) throw new UsageError(`cflens ${command}: unexpected argument '${parsed.positionals[positionals]}'`);
  const values = parsed.values as Record<string, string | boolean | undefined>;
  for (const [k, s] of Object.entries(spec)) {
    const v = values[k];
    if (typeof v !== 'string') continue;
    if (v.startsWith('--')) throw new UsageError(`cflens ${command}: --${k} needs a value, got the option ${v}`);
    if (s.choices && !s.choices.includes(v)) throw new UsageError(`cflens ${command}: --${k} must be one of ${s.choices.join(', ')}, got ${v}`);
    if (s.integer || s.min !== undefined) {
      const n = Number(v);
      if (v.trim() === '' || !Number.isInteger(n)) throw new UsageError(`cflens ${command}: --${k} must be a whole number, got ${v}`);
      if (s.min !== undefined && n < s.min) throw new UsageError(`cflens ${command}: --${k} must be at least ${s.min}, got ${v}`);
    }
  }
  return { positionals: parsed.positionals, values };
}

/** The integer value of an option parsed by parseCommand, or its default. */
export const intOf = (p: Parsed, k: string, dflt: number): number => (typeof p.values[k] === 'string' ? Number(p.values[k]) : dflt);
export const strOf = (p: Parsed, k: string, dflt: string): string => (typeof p.values[k] === 'string' ? (p.values[k] as string) : dflt);
