// Counter-based random numbers: element i of a seeded draw depends only on (seed, i), so results do
// not depend on dispatch shape. PCG-style hash (Jarzynski & Olano 2020, "Hash Functions for GPU Rendering").
@group(0) @binding(0) var<storage, read_write> dst: array<f32>;
// #params RandomParams (src/ops/kernels/fill.ts): kind 0 uniform [p0, p1), 1 normal (mean p0, std p1)
@group(0) @binding(1) var<storage, read> params: Params;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// The seed is hashed before it meets the counter (xor-ing it in directly made seeds s and s ^ k
// permutations of each other: seeds 1000 and 1001 gave the same values, pairwise swapped).
fn bits(counter: u32, stream: u32) -> u32 {
  let key = pcg(params.seedLo ^ pcg(params.seedHi ^ pcg(stream)));
  return pcg(pcg(counter + key) ^ key);
}

// [0, 1) from 24 random bits, exact in f32 (adding 0.5 before scaling rounded the top value up to 1).
fn uniform01(counter: u32, stream: u32) -> f32 {
  return f32(bits(counter, stream) >> 8u) * (1.0 / 16777216.0);
}

// The largest f32 below v (v finite).
fn float_below(v: f32) -> f32 {
  let b = bitcast<u32>(v);
  if ((b & 0x7fffffffu) == 0u) { return -bitcast<f32>(1u); }
  return bitcast<f32>(select(b - 1u, b + 1u, (b & 0x80000000u) != 0u));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  let p0 = params.p0;
  let p1 = params.p1;
  if (params.kind == 0u) {
    var v = p0 + (p1 - p0) * uniform01(i, 0u);
    // Rounding in p0 + (p1 - p0)·u can reach p1; keep the range half-open.
    if (v >= p1 && p1 > p0) { v = max(p0, float_below(p1)); }
    dst[i] = v;
  } else {
    // Box-Muller on two independent uniforms per element; u1 in (0, 1] keeps log() finite.
    let u1 = 1.0 - uniform01(i, 1u);
    let u2 = uniform01(i, 2u);
    dst[i] = p0 + p1 * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
  }
}
