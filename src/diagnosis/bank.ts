// Attribute word banks (data/banks/*.json, format in data/banks/README.md): the candidate words that UMO
// matches changes against and that ZOOM takes as attributes (`--bank`), parsed and checked here. Reading
// the file is the caller's (the CLI reads it in Node; a browser page fetches it).

export interface AttributeBank {
  name: string;
  version: number;
  description: string;
  /** Sentence templates with one `{}`; ["{}"] when the file has none. */
  templates: string[];
  /** Group name → phrases (a phrase belongs to one group). */
  groups: Record<string, string[]>;
  /** Phrases the data never shows (controls: they must not rank high). */
  distractors: string[];
}

export interface BankPhrase { phrase: string; group: string | null }

const fail = (source: string, what: string): never => {
  throw new Error(`cflens: bank ${source}: ${what} (format: data/banks/README.md)`);
};

const strings = (source: string, where: string, v: unknown): string[] => {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || !s.trim())) fail(source, `${where} must be a list of non-empty strings`);
  return (v as string[]).map((s) => s.trim());
};

/** Parses and checks a bank's JSON text; `source` names it in errors (a path or URL). */
export function parseBank(text: string, source = 'bank'): AttributeBank {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(source, `is not JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(source, 'must be one JSON object');
  const o = json as Record<string, unknown>;
  if (typeof o.name !== 'string' || !o.name) fail(source, '"name" must be a non-empty string');
  const templates = o.templates === undefined ? ['{}'] : strings(source, '"templates"', o.templates);
  for (const t of templates) if (t.split('{}').length !== 2) fail(source, `template "${t}" must contain exactly one {}`);
  if (typeof o.groups !== 'object' || o.groups === null || Array.isArray(o.groups)) fail(source, '"groups" must be an object of group → phrases');
  const groups: Record<string, string[]> = {};
  const seen = new Map<string, string>();
  for (const [g, list] of Object.entries(o.groups as Record<string, unknown>)) {
    groups[g] = strings(source, `group "${g}"`, list);
    for (const p of groups[g]) {
      if (seen.has(p)) fail(source, `phrase "${p}" is in both "${seen.get(p)}" and "${g}"`);
      seen.set(p, g);
    }
  }
  const distractors = o.distractors === undefined ? [] : strings(source, '"distractors"', o.distractors);
  for (const p of distractors) if (seen.has(p)) fail(source, `distractor "${p}" is also in group "${seen.get(p)}"`);
  if (!seen.size && !distractors.length) fail(source, 'has no phrases');
  return {
    name: o.name as string, version: typeof o.version === 'number' ? o.version : 1, description: typeof o.description === 'string' ? o.description : '',
    templates, groups, distractors,
  };
}

/** Every phrase of the bank with its group (null for distractors), groups first, in file order. */
export function bankPhrases(bank: AttributeBank): BankPhrase[] {
  return [
    ...Object.entries(bank.groups).flatMap(([group, list]) => list.map((phrase) => ({ phrase, group }))),
    ...bank.distractors.map((phrase) => ({ phrase, group: null })),
  ];
}

/** A template filled with a phrase, and the template's own text without it ("a face with {}" → "a face with"). */
export const fillTemplate = (template: string, phrase: string) => template.replace('{}', phrase);
export const bareTemplate = (template: string) => template.replace('{}', '').replace(/\s+/g, ' ').replace(/\s+([,.])/g, '$1').trim().replace(/,$/, '');

/** A bank from a plain attribute list (ZOOM's `--attributes "glasses,hat"`): one group per attribute. */
export function bankFromList(list: string, templates: string[] = ['{}']): AttributeBank {
  const words = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (!words.length) throw new Error(`cflens: --attributes "${list}": no attribute names (give a comma-separated list, e.g. "glasses,hat")`);
  return parseBank(JSON.stringify({ name: 'attributes', templates, groups: Object.fromEntries(words.map((w) => [w, [w]])) }), '--attributes');
}
