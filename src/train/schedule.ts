/** Linear warm-up over the first 5% of steps, then cosine decay to 10%. */
export function learningRate(base: number, step: number, steps: number): number {
  const warm = Math.max(1, Math.round(0.05 * steps));
  if (step < warm) return (base * (step + 1)) / warm;
  const p = (step - warm) / Math.max(1, steps - warm);
  return base * (0.1 + 0.45 * (1 + Math.cos(Math.PI * Math.min(1, p))));
}

