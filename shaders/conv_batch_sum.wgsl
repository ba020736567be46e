// dst[i] = Σ_b src[b·n + i]: the pointwise weight gradient summed over the images (one product each).
// One thread per element.
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<u32>; // n, images

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let n = params[0];
  if (i >= n) { return; }
  var a = 0.0;
  for (var b = 0u; b < params[1]; b++) { a += src[b * n + i]; }
  dst[i] = a;
}
