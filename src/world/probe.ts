// The columns an attribute probe predicts: every binary attribute and every categorical value, one
// sigmoid each (continuous lighting attributes are left out: they are global and have no region).
import { ATTRIBUTES, type Attributes, type AttributeName } from './attributes.js';

export interface ProbeGroup { attribute: AttributeName; kind: 'binary' | 'categorical'; columns: number[]; values: readonly (string | boolean)[] }

function build(): { names: string[]; groups: ProbeGroup[] } {
  const names: string[] = [];
  const groups: ProbeGroup[] = [];
  for (const spec of ATTRIBUTES) {
    if (spec.kind === 'binary') {
      groups.push({ attribute: spec.name, kind: 'binary', columns: [names.length], values: [false, true] });
      names.push(spec.name);
    } else if (spec.kind === 'categorical') {
      groups.push({ attribute: spec.name, kind: 'categorical', columns: spec.values.map((_, i) => names.length + i), values: spec.values });
      for (const v of spec.values) names.push(`${spec.name}=${v}`);
    }
  }
  return { names, groups };
}

const BUILT = build();
/** Column names: `glasses`, `hair_color=red`, ... */
export const PROBE_COLUMNS: readonly string[] = BUILT.names;
/** One group per attribute with its columns. */
export const PROBE_GROUPS: readonly ProbeGroup[] = BUILT.groups;

/** 0/1 targets of one face, in PROBE_COLUMNS order. */
export function probeTargets(a: Attributes): Float32Array {
  const out = new Float32Array(PROBE_COLUMNS.length);
  for (const g of PROBE_GROUPS) {
    const v = a[g.attribute];
    if (g.kind === 'binary') out[g.columns[0]] = v ? 1 : 0;
    else out[g.columns[g.values.indexOf(v as string)]] = 1;
  }
  return out;
}

/** Decoded attribute values from one row of probe logits: binary by sign, categorical by argmax. */
export function decodeProbe(logits: ArrayLike<number>, offset = 0): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const g of PROBE_GROUPS) {
    if (g.kind === 'binary') out[g.attribute] = logits[offset + g.columns[0]] > 0;
    else {
      let best = 0;
      for (let i = 1; i < g.columns.length; i++) if (logits[offset + g.columns[i]] > logits[offset + g.columns[best]]) best = i;
      out[g.attribute] = g.values[best];
    }
  }
  return out;
}
