// Noise schedules as diffusers computes them with torch on the CPU, bit for bit: float32 tensors,
// linspace as torch's AVX2 kernel fills it, cumprod accumulated in double.

import type { NoiseScheduleConfig } from './config.js';
import { f, fmaf, sqrtf } from './f32.js';

/**
 * torch.linspace(start, end, n, dtype=float32) on the CPU: float32 step; the first half counted from
 * start, the second from end, each as one fused multiply-add; blocks of 16 filled 8 at a time as
 * base + k·step (the vectorised loop), the remainder element by element.
 */
export function torchLinspace32(start: number, end: number, n: number): Float32Array {
  const out = new Float32Array(n);
  const s = f(start);
  const e = f(end);
  if (n === 1) {
    out[0] = s;
    return out;
  }
  const step = f(f(e - s) / f(n - 1));
  const half = Math.floor(n / 2);
  const at = (i: number) => (i < half ? fmaf(step, f(i), s) : fmaf(-step, f(n - 1 - i), e));
  const vectorised = Math.floor(n / 16) * 16;
  for (let i = 0; i < vectorised; i += 8) {
    const base = at(i);
    for (let k = 0; k < 8; k++) out[i + k] = f(base + f(k * step));
  }
  for (let i = vectorised; i < n; i++) out[i] = at(i);
  return out;
}

/** diffusers' betas_for_alpha_bar with the cosine transform (squaredcos_cap_v2), in double, then float32. */
function cosineBetas(n: number, maxBeta = 0.999): Float32Array {
  const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), maxBeta);
  return out;
}

/** torch.cumprod of float32 values: accumulated in double, each partial product rounded to float32. */
export function cumprod32(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  let acc = 1;
  for (let i = 0; i < values.length; i++) {
    acc *= values[i];
    out[i] = acc;
  }
  return out;
}

/** 1 − x elementwise in float32. */
const oneMinus = (x: Float32Array): Float32Array => x.map((v) => f(1 - v));

/** Cumulative products of 1 − β (ᾱ_t), as torch.cumprod(1 - betas). */
export function alphasCumprod(betas: Float32Array): Float32Array {
  return cumprod32(oneMinus(betas));
}

/** diffusers' rescale_zero_terminal_snr (Lin et al. 2023, Algorithm 1) in float32: ᾱ_T becomes 0. */
export function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const sqrtBar = alphasCumprod(betas).map(sqrtf);
  const first = sqrtBar[0];
  const last = sqrtBar[sqrtBar.length - 1];
  const scale = f(first / f(first - last));
  const bar = sqrtBar.map((v) => {
    const shifted = f(f(v - last) * scale);
    return f(shifted * shifted);
  });
  const alphas = bar.map((v, i) => (i === 0 ? v : f(v / bar[i - 1])));
  return oneMinus(alphas);
}

/** The betas of a config (float32), rescaled to zero terminal SNR when asked. */
export function makeBetas(
  c: Pick<NoiseScheduleConfig, 'num_train_timesteps' | 'beta_start' | 'beta_end' | 'beta_schedule' | 'trained_betas'> & { rescale_betas_zero_snr?: boolean },
): Float32Array {
  const n = c.num_train_timesteps;
  let betas: Float32Array;
  if (c.trained_betas) betas = Float32Array.from(c.trained_betas);
  else if (c.beta_schedule === 'linear') betas = torchLinspace32(c.beta_start, c.beta_end, n);
  else if (c.beta_schedule === 'scaled_linear') betas = torchLinspace32(Math.sqrt(c.beta_start), Math.sqrt(c.beta_end), n).map((b) => f(b * b));
  else if (c.beta_schedule === 'squaredcos_cap_v2') betas = cosineBetas(n);
  else throw new Error(`cflens: scheduler: unknown beta_schedule '${c.beta_schedule as string}' (supported: linear, scaled_linear, squaredcos_cap_v2)`);
  return c.rescale_betas_zero_snr ? rescaleZeroTerminalSnr(betas) : betas;
}
