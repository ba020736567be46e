// The columns an attribute reader predicts: every binary attribute and every categorical value, one
// sigmoid each (continuous lighting attributes are left out: they are global and have no region).
// A column is named `glasses` (binary) or `hair_color=red` (one value of a categorical attribute); a
// model that reads attributes lists its columns by these names in its config, and the groups are
// parsed back from them.
import { ATTRIBUTES, type Attributes } from './attributes.js';

export type AttributeValue = string | boolean;
export type AttributeReading = Record<string, AttributeValue>;

export interface ColumnGroup { attribute: string; kind: 'binary' | 'categorical'; columns: number[]; values: readonly AttributeValue[] }

/** Groups of named columns, in first-appearance order: `a` is binary, `a=v1`, `a=v2`, ... categorical. */
export function columnGroups(names: readonly string[]): ColumnGroup[] {
  const groups = new Map<string, ColumnGroup>();
  names.forEach((name, i) => {
    const eq = name.indexOf('=');
    const attribute = eq < 0 ? name : name.slice(0, eq);
    const kind = eq < 0 ? 'binary' : 'categorical';
    const g = groups.get(attribute);
    if (g && (g.kind !== kind || kind === 'binary')) {
      throw new Error(`cflens: attribute column '${name}' repeats or mixes kinds with an earlier column of '${attribute}'`);
    }
    if (kind === 'binary') groups.set(attribute, { attribute, kind, columns: [i], values: [false, true] });
    else if (g) groups.set(attribute, { ...g, columns: [...g.columns, i], values: [...g.values, name.slice(eq + 1)] });
    else groups.set(attribute, { attribute, kind, columns: [i], values: [name.slice(eq + 1)] });
  });
  return [...groups.values()];
}

/** Column names of the world: `glasses`, `hair_color=red`, ... */
export const ATTRIBUTE_COLUMNS: readonly string[] = ATTRIBUTES.flatMap((spec) =>
  spec.kind === 'binary' ? [spec.name] : spec.kind === 'categorical' ? spec.values.map((v) => `${spec.name}=${v}`) : []);
/** One group per world attribute with its columns. */
export const ATTRIBUTE_GROUPS: readonly ColumnGroup[] = columnGroups(ATTRIBUTE_COLUMNS);

/** 0/1 targets of one face, in ATTRIBUTE_COLUMNS order. */
export function attributeTargets(a: Attributes): Float32Array {
  const out = new Float32Array(ATTRIBUTE_COLUMNS.length);
  for (const g of ATTRIBUTE_GROUPS) {
    const v = a[g.attribute as keyof Attributes];
    out[g.kind === 'binary' ? g.columns[0] : g.columns[g.values.indexOf(v as string)]] = g.kind === 'binary' ? (v ? 1 : 0) : 1;
  }
  return out;
}

/** Attribute values from one row of column logits: binary by sign, categorical by argmax. */
export function decodeColumns(logits: ArrayLike<number>, offset = 0, groups: readonly ColumnGroup[] = ATTRIBUTE_GROUPS): AttributeReading {
  const out: AttributeReading = {};
  for (const g of groups) {
    if (g.kind === 'binary') out[g.attribute] = logits[offset + g.columns[0]] > 0;
    else {
      let best = 0;
      for (let i = 1; i < g.columns.length; i++) if (logits[offset + g.columns[i]] > logits[offset + g.columns[best]]) best = i;
      out[g.attribute] = g.values[best];
    }
  }
  return out;
}
