// The numpy float64 routines diffusers builds its timesteps with, reproduced operation by operation
// (numpy 1.24): a different but "equivalent" formula lands one timestep away for some step counts.

/** np.round / np.rint: to the nearest integer, halves to even. */
export function roundHalfEven(x: number): number {
  if (Math.abs(x - Math.trunc(x)) === 0.5) return 2 * Math.round(x / 2);
  return Math.round(x);
}

/**
 * np.arange(start, stop, step): length ceil((stop - start) / step); element 1 is start + step and
 * element i ≥ 2 is start + i·delta with delta = (start + step) − start, as numpy's fill does.
 */
export function arange(start: number, stop: number, step: number): number[] {
  const length = Math.ceil((stop - start) / step);
  if (!(length > 0)) return [];
  const out = [start];
  if (length === 1) return out;
  const second = start + step;
  out.push(second);
  const delta = second - start;
  for (let i = 2; i < length; i++) out.push(start + i * delta);
  return out;
}

/** np.linspace(start, stop, num) (endpoint included): i·step + start, the last element exactly stop. */
export function linspace(start: number, stop: number, num: number): number[] {
  const div = num - 1;
  const delta = stop - start;
  const out: number[] = [];
  if (div > 0) {
    const step = delta / div;
    for (let i = 0; i < num; i++) out.push(step === 0 ? (i / div) * delta + start : i * step + start);
    out[num - 1] = stop;
  } else {
    for (let i = 0; i < num; i++) out.push(i * delta + start);
  }
  return out;
}
