import { type NDArray, clone, nd, numel, shapesEqual } from './core.ts';

/** Mean and biased (population) variance, two-pass. */
function moments(values: number[]): { mean: number; variance: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) * (v - mean), 0) / values.length;
  return { mean, variance };
}

function expectVector(v: NDArray | null, n: number, name: string, op: string): void {
  if (v && (v.shape.length !== 1 || v.shape[0] !== n)) {
    throw new Error(`${op}: ${name} must have shape [${n}], got [${v.shape.join(', ')}]`);
  }
}

/** F.group_norm on [N, C, *]: statistics per (sample, group of C/groups channels), affine per channel. */
export function groupNorm(x: NDArray, groups: number, weight: NDArray | null, bias: NDArray | null, eps = 1e-5): NDArray {
  if (x.shape.length < 2) throw new Error('groupNorm: input must be at least 2-D');
  const [N, C] = x.shape;
  if (C % groups !== 0) throw new Error(`groupNorm: ${C} channels not divisible by ${groups} groups`);
  expectVector(weight, C, 'weight', 'groupNorm');
  expectVector(bias, C, 'bias', 'groupNorm');
  const spatial = numel(x.shape.slice(2));
  const groupLen = (C / groups) * spatial;
  const out = nd(x.shape);
  for (let g = 0; g < N * groups; g++) {
    const start = g * groupLen;
    const { mean, variance } = moments(Array.from(x.data.subarray(start, start + groupLen)));
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < groupLen; i++) {
      const c = (g % groups) * (C / groups) + Math.floor(i / spatial);
      const y = (x.data[start + i] - mean) * inv;
      out.data[start + i] = y * (weight ? weight.data[c] : 1) + (bias ? bias.data[c] : 0);
    }
  }
  return out;
}

/** F.layer_norm over the trailing `normalizedShape` dims; weight/bias have that shape. */
export function layerNorm(
  x: NDArray,
  normalizedShape: readonly number[],
  weight: NDArray | null,
  bias: NDArray | null,
  eps = 1e-5,
): NDArray {
  const k = normalizedShape.length;
  if (!shapesEqual(x.shape.slice(x.shape.length - k), normalizedShape) || k > x.shape.length) {
    throw new Error(`layerNorm: input [${x.shape.join(', ')}] does not end in [${normalizedShape.join(', ')}]`);
  }
  for (const [v, name] of [[weight, 'weight'], [bias, 'bias']] as const) {
    if (v && !shapesEqual(v.shape, normalizedShape)) throw new Error(`layerNorm: ${name} must have shape [${normalizedShape.join(', ')}]`);
  }
  const len = numel(normalizedShape);
  const out = nd(x.shape);
  for (let start = 0; start < x.data.length; start += len) {
    const { mean, variance } = moments(Array.from(x.data.subarray(start, start + len)));
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < len; i++) {
      const y = (x.data[start + i] - mean) * inv;
      out.data[start + i] = y * (weight ? weight.data[i] : 1) + (bias ? bias.data[i] : 0);
    }
  }
  return out;
}

export interface BatchNormOptions {
  training?: boolean;
  eps?: number;
  momentum?: number;
}

/**
 * F.batch_norm on [N, C, *]. Training mode normalises with the biased batch variance and, like
 * PyTorch, updates `runningMean`/`runningVar` in place (with the unbiased variance) when given.
 * Eval mode normalises with the running statistics.
 */
export function batchNorm2d(
  x: NDArray,
  runningMean: NDArray | null,
  runningVar: NDArray | null,
  weight: NDArray | null,
  bias: NDArray | null,
  opts: BatchNormOptions = {},
): NDArray {
  const { training = false, eps = 1e-5, momentum = 0.1 } = opts;
  if (x.shape.length < 2) throw new Error('batchNorm2d: input must be at least 2-D');
  const [N, C] = x.shape;
  for (const [v, name] of [[runningMean, 'runningMean'], [runningVar, 'runningVar'], [weight, 'weight'], [bias, 'bias']] as const) {
    expectVector(v, C, name, 'batchNorm2d');
  }
  if (!training && (!runningMean || !runningVar)) throw new Error('batchNorm2d: eval mode needs running statistics');
  const spatial = numel(x.shape.slice(2));
  const out = clone(x);
  for (let c = 0; c < C; c++) {
    const offsets: number[] = [];
    for (let n = 0; n < N; n++) for (let s = 0; s < spatial; s++) offsets.push((n * C + c) * spatial + s);
    let mean: number;
    let variance: number;
    if (training) {
      ({ mean, variance } = moments(offsets.map((o) => x.data[o])));
      const count = offsets.length;
      if (runningMean) runningMean.data[c] = (1 - momentum) * runningMean.data[c] + momentum * mean;
      if (runningVar) {
        const unbiased = count > 1 ? (variance * count) / (count - 1) : variance;
        runningVar.data[c] = (1 - momentum) * runningVar.data[c] + momentum * unbiased;
      }
    } else {
      mean = runningMean!.data[c];
      variance = runningVar!.data[c];
    }
    const inv = 1 / Math.sqrt(variance + eps);
    const scale = weight ? weight.data[c] : 1;
    const shift = bias ? bias.data[c] : 0;
    for (const o of offsets) out.data[o] = (x.data[o] - mean) * inv * scale + shift;
  }
  return out;
}
