import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { backward, fromArray, type Tensor } from '../../src/index.js';
import { SafetensorsFile, toFloat32 } from '../../src/io/safetensors.js';
import { fileSource } from '../../src/io/node/file-source.js';
import type { NDArray } from '../../src/reference/index.js';
import { assertClose } from './gpu.js';

// PyTorch op fixtures in test/fixtures/ops/<family>.{json,safetensors}: NAME.<input>, NAME.out, NAME.R and
// NAME.grad_<input> = d sum(out·R) / d input, with per-case tolerances. Missing files fail the test.

export interface Family {
  meta: { cases: Record<string, { call: string; atol: number; rtol: number }> };
  get(key: string): Promise<NDArray>;
  has(key: string): boolean;
}

export async function loadFamily(name: string): Promise<Family> {
  const dir = new URL('../fixtures/ops/', import.meta.url).pathname;
  const meta = JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8'));
  const file = await SafetensorsFile.open(fileSource(`${dir}${name}.safetensors`));
  const names = new Set(file.names());
  return {
    meta,
    has: (k) => names.has(k),
    get: async (k) => {
      const t = await file.read(k);
      return { shape: t.shape, data: Float64Array.from(toFloat32(t)) };
    },
  };
}

/** Runs fn on the case's inputs, compares out and every grad_<input> with the case tolerances; returns the grads checked. */
export async function matchFixture(fam: Family, name: string, inputs: string[], fn: (ts: Record<string, Tensor>) => Tensor): Promise<number> {
  const { atol, rtol } = fam.meta.cases[name];
  const ts: Record<string, Tensor> = {};
  for (const k of inputs) {
    const a = await fam.get(`${name}.${k}`);
    ts[k] = fromArray(Float32Array.from(a.data), a.shape, { requiresGrad: fam.has(`${name}.grad_${k}`) });
  }
  const out = fn(ts);
  const want = await fam.get(`${name}.out`);
  expect(out.size).toBe(want.data.length);
  assertClose(await out.toArray(), want.data, { atol, rtol }, `${name} out`);
  const R = await fam.get(`${name}.R`);
  backward(out, fromArray(Float32Array.from(R.data), out.shape));
  let grads = 0;
  for (const k of inputs) {
    if (!fam.has(`${name}.grad_${k}`)) continue;
    const g = ts[k].grad;
    expect(g, `${name}: grad of ${k}`).not.toBeNull();
    assertClose(await g!.toArray(), (await fam.get(`${name}.grad_${k}`)).data, { atol, rtol }, `${name} grad_${k}`);
    grads++;
  }
  for (const t of Object.values(ts)) t.dispose();
  out.dispose();
  return grads;
}
