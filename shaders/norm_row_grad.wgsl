// A normalisation's input gradient and its affine parameters' partial sums in one pass, a thread per
// row (CPU adapters), where every row is whole parameter segments of S contiguous elements (GroupNorm:
// a row is Cg channels of H·W). For the segment of parameter p starting at element a0 (o = a0 / S):
//   PART[o] = Σ g·x̂,  PART[A·P + o] = Σ g   (norm_param.wgsl MODE 0's layout; norm_param_final sums them),
// and since w is constant on a segment, Σ gy = Σ_p w·Σ g and Σ gy·x̂ = Σ_p w·Σ g·x̂ (gy = g·w) give
//   dx = rstd·(gy − mean(gy) − x̂·mean(gy·x̂))  without another pass over the row.
const WG: u32 = 64u;
const SEG: u32 = 0u;

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;     // weight (bound to A when absent)
@group(0) @binding(2) var<storage, read> C: array<f32>;      // g
@group(0) @binding(3) var<storage, read> STATS: array<f32>;
@group(0) @binding(4) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(5) var<storage, read_write> PART: array<f32>;
// #params NormParams (src/ops/kernels/norm.ts); flags: 1 weight
@group(0) @binding(6) var<storage, read> params: Params;

// #include norm_common

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= params.rows) { return; }
  let S = params.S;
  let count = params.count;
  let mean = STATS[2u * r];
  let rstd = inverseSqrt(STATS[2u * r + 1u] + params.eps);
  let half = params.rows * (count / S);
  var sgy = 0.0;
  var sgyx = 0.0;
  for (var j0 = 0u; j0 < count; j0 += S) {
    let a0 = addr(r, j0);
    var d1 = 0.0;
    var d2 = 0.0;
    for (var a = a0; a < a0 + S; a++) {
      let g = C[a];
      d1 += g * (A[a] - mean) * rstd;
      d2 += g;
    }
    PART[a0 / S] = d1;
    PART[half + a0 / S] = d2;
    let w = weight(a0);
    sgy += w * d2;
    sgyx += w * d1;
  }
  let m1 = sgy / f32(count);
  let m2 = sgyx / f32(count);
  for (var j0 = 0u; j0 < count; j0 += S) {
    let a0 = addr(r, j0);
    let w = weight(a0);
    for (var a = a0; a < a0 + S; a++) {
      OUT[a] = rstd * (C[a] * w - m1 - (A[a] - mean) * rstd * m2);
    }
  }
}
