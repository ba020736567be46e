// Scalar float32 arithmetic as torch performs it on 0-d float32 tensors: every operation rounds to
// float32. The schedulers compute their per-step coefficients this way so that the values
// multiplying the GPU tensors are the float32 values diffusers multiplies by.

export const f = Math.fround;
export const sqrtf = (x: number): number => f(Math.sqrt(x));
export const logf = (x: number): number => f(Math.log(x));
export const expf = (x: number): number => f(Math.exp(x));

const f32 = new Float32Array(1);
const bits = new Int32Array(f32.buffer);

/** The float32 next to x (a float32) in the direction of `toward`. */
function nextFloat32(x: number, toward: number): number {
  if (x === toward) return x;
  if (x === 0) return toward > 0 ? 1.401298464324817e-45 : -1.401298464324817e-45;
  f32[0] = x;
  bits[0] += (toward > x) === (x > 0) ? 1 : -1;
  return f32[0];
}

/**
 * a·b + c rounded once to float32 (a fused multiply-add), for float32 a, b, c. torch's CPU
 * kernels are compiled with FMA contraction, so `start + step * i` in torch.linspace is fused.
 */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b; // exact: two 24-bit significands fit in a double's 53
  const s = p + c;
  const bb = s - p;
  const err = (p - (s - bb)) + (c - bb); // s + err == p + c exactly (TwoSum)
  const r = f(s);
  if (err === 0 || r === s) return r;
  const other = nextFloat32(r, s);
  const mid = (r + other) / 2;
  if (s !== mid) return r;
  // s sits exactly between two float32s; the exact value is on err's side of it.
  return (err > 0) === (other > r) ? other : r;
}
