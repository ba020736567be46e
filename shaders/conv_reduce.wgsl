// Sums the slices of a convolution's weight gradient (split-K parts, or the per-image products of a
// pointwise convolution): out[i] = Σ_s part[s·n + i].
@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
// #params ConvReduceParams (src/ops/kernels/conv-params.ts)
@group(0) @binding(2) var<storage, read> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  let n = params.n;
  if (i >= n) { return; }
  var acc = part[i];
  for (var s = 1u; s < params.splits; s++) { acc += part[s * n + i]; }
  dst[i] = acc;
}
