// Sums norm_param.wgsl's partials per parameter p, one workgroup per p (tree reduction):
// DW[p] = Σ_k Σ_s PART[(k·P + p)·S2 + s] and DB[p] likewise from the second half of PART (offset K·P·S2).
const WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> PART: array<f32>;
@group(0) @binding(1) var<storage, read_write> DW: array<f32>;
@group(0) @binding(2) var<storage, read_write> DB: array<f32>;
// #params NormParamFinalParams (src/ops/kernels/norm.ts)
@group(0) @binding(3) var<storage, read> params: Params;

// #include pair_sums

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let p = wid.x + wid.y * nwg.x;
  let nP = params.P;
  let valid = p < nP; // uniform across the workgroup
  let K = params.K;
  let S2 = params.S2;
  let half = K * nP * S2;
  var d1 = 0.0;
  var d2 = 0.0;
  if (valid) {
    for (var t = lid; t < K * S2; t += WG) {
      let e = ((t / S2) * nP + p) * S2 + t % S2;
      d1 += PART[e];
      d2 += PART[half + e];
    }
  }
  let t = pair_sums(vec2f(d1, d2), lid);
  if (valid && lid == 0u) {
    DW[p] = t.x;
    DB[p] = t.y;
  }
}
