// Counterfactual values of one attribute, shared by the training batches and the diagnosis.
import { ATTRIBUTES, type Attributes, type AttributeName } from './attributes.js';
import type { Rng } from './rng.js';

/** Another value of one attribute: the other binary value, another category, or lighting moved to another third. */
export function otherValue(a: Attributes, name: AttributeName, rng: Rng): Partial<Attributes> {
  const spec = ATTRIBUTES.find((s) => s.name === name)!;
  const v = a[name];
  if (spec.kind === 'binary') return { [name]: !v } as Partial<Attributes>;
  if (spec.kind === 'categorical') {
    const others = spec.values.filter((x) => x !== v);
    return { [name]: others[rng.int(others.length)] } as Partial<Attributes>;
  }
  const third = (x: number) => (x < -1 / 3 ? 0 : x > 1 / 3 ? 2 : 1);
  const now = third(v as number);
  const target = [0, 1, 2].filter((t) => t !== now)[rng.int(2)];
  return { [name]: [-2 / 3, 0, 2 / 3][target] } as Partial<Attributes>;
}
