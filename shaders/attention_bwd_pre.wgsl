// Fused attention backward, step 1: per query row, RD = (logsumexp, Σ_c dO·O) — FlashAttention-2's
// D_i = rowsum(dO ∘ O), the softmax-backward term. One thread per row.
@group(0) @binding(0) var<storage, read> O: array<f32>;   // [rows, DV]
@group(0) @binding(1) var<storage, read> G: array<f32>;   // dO [rows, DV]
@group(0) @binding(2) var<storage, read> LSE: array<f32>; // [rows]
@group(0) @binding(3) var<storage, read_write> RD: array<vec2f>; // [rows] (lse, D)
// #params AttentionPreParams (src/ops/kernels/attention-params.ts)
@group(0) @binding(4) var<storage, read> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= params.rows) { return; }
  let DV = params.DV;
  var a = 0.0;
  let base = r * DV;
  for (var c = 0u; c < DV; c++) { a = fma(G[base + c], O[base + c], a); }
  RD[r] = vec2f(LSE[r], a);
}
