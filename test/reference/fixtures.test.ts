// Every PyTorch op fixture in test/fixtures/ops, recomputed with the CPU reference.
import { readdirSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { type NDArray, nd, numel, shapesEqual } from '../../src/reference/index.ts';
import { OPS_FIXTURE_DIR, allcloseReport, loadOpFamily } from './fixture.ts';
import { type Inputs, OP_CASES } from './op-cases.ts';

const cache = new Map<string, ReturnType<typeof loadOpFamily>>();
function family(name: string) {
  if (!cache.has(name)) cache.set(name, loadOpFamily(name));
  return cache.get(name)!;
}

/** The case's tensors other than out, R and grads, keyed by input name. */
function caseInputs(fam: string, name: string): Inputs {
  const inputs: Inputs = {};
  for (const [key, value] of family(fam).tensors) {
    const [owner, input] = [key.slice(0, key.indexOf('.')), key.slice(key.indexOf('.') + 1)];
    if (owner === name && input !== 'out' && input !== 'R' && !input.startsWith('grad_')) inputs[input] = value;
  }
  return inputs;
}

function tensor(fam: string, key: string): NDArray {
  const t = family(fam).tensors.get(key);
  if (!t) throw new Error(`fixture ${fam}: no tensor ${key}`);
  return t;
}

/** Scalar outputs are stored as [1]; the reference returns 0-d for them. */
function sameShape(actual: number[], expected: number[]): boolean {
  return shapesEqual(actual, expected) || (numel(actual) === 1 && numel(expected) === 1);
}

function seededDirection(n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

const dot = (a: Float64Array, b: Float64Array) => a.reduce((acc, v, i) => acc + v * b[i], 0);

test('the ops fixture directory holds exactly the covered families', () => {
  const families = readdirSync(OPS_FIXTURE_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
  expect(families).toEqual(Object.keys(OP_CASES).sort());
});

describe.each(Object.keys(OP_CASES))('%s fixtures', (fam) => {
  test('every JSON case has a reference call', () => {
    expect(Object.keys(family(fam).meta.cases).sort()).toEqual(Object.keys(OP_CASES[fam]).sort());
  });

  test.each(Object.keys(OP_CASES[fam]))('%s forward matches PyTorch', (name) => {
    const { atol, rtol } = family(fam).meta.cases[name];
    const expected = tensor(fam, `${name}.out`);
    const actual = OP_CASES[fam][name](caseInputs(fam, name));
    expect(sameShape(actual.shape, expected.shape), `shape [${actual.shape}] vs [${expected.shape}]`).toBe(true);
    const report = allcloseReport(actual, expected, atol, rtol);
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });

  // Sanity of the reference and the stored gradients together: the central difference of
  // L = sum(out * R) along a random direction v equals grad · v.
  test.each(Object.keys(OP_CASES[fam]))('%s directional derivative agrees with the stored gradients', (name) => {
    const gradInputs = Object.keys(family(fam).meta.tensors)
      .filter((k) => k.startsWith(`${name}.grad_`))
      .map((k) => k.slice(`${name}.grad_`.length));
    const floatInputs = Object.values(caseInputs(fam, name)).some((t) => t.data.some((v) => !Number.isInteger(v)));
    expect(gradInputs.length > 0, 'cases with float inputs carry gradients').toBe(floatInputs);
    if (gradInputs.length === 0) return;
    const weights = tensor(fam, `${name}.R`).data;
    const inputs = caseInputs(fam, name);
    const loss = (i: Inputs) => dot(OP_CASES[fam][name](i).data, weights);
    gradInputs.forEach((input, n) => {
      const x = inputs[input];
      const grad = tensor(fam, `${name}.grad_${input}`).data;
      const v = seededDirection(x.data.length, 1234 + n);
      const h = 1e-4;
      const shifted = (sign: number) => ({ ...inputs, [input]: nd(x.shape, x.data.map((xi, j) => xi + sign * h * v[j])) });
      const fd = (loss(shifted(1)) - loss(shifted(-1))) / (2 * h);
      const analytic = dot(grad, v);
      const scale = grad.reduce((acc, g, j) => acc + Math.abs(g * v[j]), 0);
      expect(Math.abs(fd - analytic), `${input}: fd ${fd} vs grad·v ${analytic}`).toBeLessThanOrEqual(1e-3 * scale + 1e-5);
    });
  });
});
