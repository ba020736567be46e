// Counter-based random numbers: element i of a seeded draw depends only on (seed, i), so results do
// not depend on dispatch shape. PCG-style hash (Jarzynski & Olano 2020, "Hash Functions for GPU Rendering").
@group(0) @binding(0) var<storage, read_write> dst: array<f32>;
// n, seedLo, seedHi, kind (0 uniform [lo,hi), 1 normal), p0 bits (lo | mean), p1 bits (hi | std)
@group(0) @binding(1) var<storage, read> params: array<u32>;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn uniform01(counter: u32, stream: u32) -> f32 {
  let h = pcg(pcg(counter ^ params[1]) ^ pcg(stream + params[2] * 0x9E3779B9u));
  return (f32(h >> 8u) + 0.5) * (1.0 / 16777216.0); // in (0, 1): safe for log()
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params[0]) { return; }
  let p0 = bitcast<f32>(params[4]);
  let p1 = bitcast<f32>(params[5]);
  if (params[3] == 0u) {
    dst[i] = p0 + (p1 - p0) * uniform01(i, 0u);
  } else {
    // Box-Muller on two independent uniforms per element.
    let u1 = uniform01(i, 1u);
    let u2 = uniform01(i, 2u);
    dst[i] = p0 + p1 * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
  }
}
