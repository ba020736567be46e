// diffusers get_timestep_embedding for timesteps on the GPU: angle = f32(scale · f32(t · freq[i]))
// (float32 rounding of each step, as torch), OUT[r] = [sin | cos] (or [cos | sin] when FLIP), plus a
// zero column when dim is odd. sin/cos are evaluated with an explicit range reduction (Cody–Waite by
// π/2) and Taylor polynomials: WGSL's builtins promise little accuracy outside [-π, π], and timesteps
// reach ~1000.
@group(0) @binding(0) var<storage, read> T: array<{{IT}}>;
@group(0) @binding(1) var<storage, read> FREQ: array<f32>;
@group(0) @binding(2) var<storage, read_write> OUT: array<f32>;
// #params TimestepParams (src/ops/kernels/embedding.ts): n = rows · half
@group(0) @binding(3) var<storage, read> params: Params;

fn sin_cos(a: f32) -> vec2f {
  let k = round(a * 0.63661977236758134);
  // π/2 = P1 + P2 + P3; P1 and P2 have few mantissa bits so k·P1, k·P2 are exact for |k| < 2^13.
  let r = ((a - k * 1.5703125) - k * 4.837512969970703125e-4) - k * 7.54978995489188216e-8;
  let r2 = r * r;
  let s = r + r * r2 * (-0.16666666666666666 + r2 * (0.008333333333333333 + r2 * (-1.984126984126984e-4 + r2 * 2.7557319223985893e-6)));
  let c = 1.0 + r2 * (-0.5 + r2 * (0.041666666666666664 + r2 * (-0.001388888888888889 + r2 * (2.48015873015873e-5 + r2 * -2.755731922398589e-7))));
  let q = i32(k) & 3;
  if (q == 0) { return vec2f(s, c); }
  if (q == 1) { return vec2f(c, -s); }
  if (q == 2) { return vec2f(-s, -c); }
  return vec2f(-c, s);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= params.n) { return; }
  let half = params.half;
  let dim = params.dim;
  let r = i / half;
  let j = i % half;
  let t = f32(T[r]);
  let prod = t * FREQ[j];
  let angle = params.scale * prod;
  let sc = sin_cos(angle);
  let base = r * dim;
  if (params.flip != 0u) {
    OUT[base + j] = sc.y;
    OUT[base + half + j] = sc.x;
  } else {
    OUT[base + j] = sc.x;
    OUT[base + half + j] = sc.y;
  }
  if (j == 0u && dim > 2u * half) { OUT[base + dim - 1u] = 0.0; }
}
