import { expect } from 'vitest';
import type { NDArray } from '../../src/reference/index.ts';

/** Asserts the shape and that each element is within `tol` of the flat `values` (NaN and ±inf must match exactly). */
export function expectND(actual: NDArray, shape: number[], values: number[], tol = 1e-12): void {
  expect(actual.shape).toEqual(shape);
  expect(actual.data.length).toBe(values.length);
  actual.data.forEach((v, i) => {
    if (Number.isNaN(values[i])) expect(v, `index ${i}`).toBeNaN();
    else if (!Number.isFinite(values[i])) expect(v, `index ${i}`).toBe(values[i]);
    else expect(Math.abs(v - values[i]), `index ${i}: ${v} vs ${values[i]}`).toBeLessThanOrEqual(tol);
  });
}

export const range = (n: number, start = 0) => Array.from({ length: n }, (_, i) => start + i);
