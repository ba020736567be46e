// out[i] += bias[channel of i] for an NCHW tensor (the pointwise convolutions on the matmul kernel, whose
// products carry no bias). One thread per element.
@group(0) @binding(0) var<storage, read> bias: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
// #params ConvBiasParams (src/ops/kernels/conv-params.ts)
@group(0) @binding(2) var<storage, read> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= params.n) { return; }
  out[i] += bias[(i / params.pixels) % params.channels];
}
