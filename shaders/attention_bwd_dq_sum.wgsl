// Fused attention backward (the regs one-pass attention_bwd_regs), last step: dQ = scale · Σ_w DQP[w], the sum of the
// W per-slot partial sums. One thread per vec4.
@group(0) @binding(0) var<storage, read> DQP: array<vec4f>;       // [W, n]
@group(0) @binding(1) var<storage, read_write> DQ: array<vec4f>;  // [n]
// #params DqSumParams (src/ops/kernels/attention-params.ts): n vec4s, W partial copies
@group(0) @binding(2) var<storage, read> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let n = params.n;
  if (i >= n) { return; }
  var a = vec4f(0.0);
  for (var w = 0u; w < params.W; w++) { a += DQP[w * n + i]; }
  DQ[i] = a * params.scale;
}
