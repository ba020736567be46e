// Sums norm_param.wgsl's partials per parameter p, one workgroup per p (tree reduction):
// DW[p] = Σ_k Σ_s PART[(k·P + p)·S2 + s] and DB[p] likewise from the second half of PART (offset K·P·S2).
const WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> PART: array<f32>;
@group(0) @binding(1) var<storage, read_write> DW: array<f32>;
@group(0) @binding(2) var<storage, read_write> DB: array<f32>;
@group(0) @binding(3) var<storage, read> params: array<u32>; // P, K, S2

var<workgroup> s1: array<f32, WG>;
var<workgroup> s2: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let p = wid.x + wid.y * nwg.x;
  let nP = params[0];
  let valid = p < nP; // uniform across the workgroup
  let K = params[1];
  let S2 = params[2];
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
  s1[lid] = d1;
  s2[lid] = d2;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (lid < h) {
      s1[lid] = s1[lid] + s1[lid + h];
      s2[lid] = s2[lid] + s2[lid + h];
    }
    workgroupBarrier();
  }
  if (valid && lid == 0u) {
    DW[p] = s1[0];
    DB[p] = s2[0];
  }
}
