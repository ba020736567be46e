import { readFileSync } from 'node:fs';
import { fromArray, type Tensor } from '../../src/index.js';
import { readSafetensors } from '../reference/fixture.js';
import type { NDArray } from '../../src/reference/index.js';

const root = new URL('../fixtures/', import.meta.url).pathname;

/** A model fixture folder: config, io tensors (f64 on the CPU), tolerance. Throws when missing. */
export function modelFixture(name: string) {
  const dir = `${root}${name}/`;
  const config = JSON.parse(readFileSync(`${dir}config.json`, 'utf8'));
  const meta = JSON.parse(readFileSync(`${dir}meta.json`, 'utf8'));
  const io = readSafetensors(`${dir}io.safetensors`);
  const get = (k: string): NDArray => {
    const t = io.get(k);
    if (!t) throw new Error(`fixture ${name}: no tensor '${k}' in io.safetensors`);
    return t;
  };
  return { dir, config, meta, io, get, tol: meta.tolerance as { atol: number; rtol: number } };
}

export function upload(a: NDArray): Tensor {
  return fromArray(Float32Array.from(a.data), a.shape);
}
