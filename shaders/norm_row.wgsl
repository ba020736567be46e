// Normalisation with one workgroup per row (GroupNorm, LayerNorm, BatchNorm in training), fused.
// Entry `per_row`: one thread per row, no tree reduction (CPU adapters).
// A row is `count` elements; element j of row r lives at
//   SEG 0: r·rowStride + j                                    (contiguous rows: GroupNorm, LayerNorm)
//   SEG 1: r·rowStride + (j / segLen)·segStride + j % segLen  (rows made of segments: BatchNorm)
// Its affine parameter is w[(addr / S) % P] (S: elements per parameter, P: parameters).
// STATS[2r] = mean, STATS[2r+1] = biased variance; rstd = inverseSqrt(var + eps) is recomputed.
// MODE 0, forward:  Welford statistics per thread, merged with Chan's formula (stable for long rows
//                   with a large mean), then y = (x − mean)·rstd·w + b.        A = x, C = bias, OUT = y
// MODE 1, backward: x̂ = (x − mean)·rstd, gy = g·w;
//                   dx = rstd·(gy − mean(gy) − x̂·mean(gy·x̂)).                 A = x, C = g, OUT = dx
const WG: u32 = {{WG}}u;
const MODE: u32 = {{MODE}}u;
const SEG: u32 = {{SEG}}u;

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;     // weight (bound to A when absent)
@group(0) @binding(2) var<storage, read> C: array<f32>;      // bias (forward; bound to A when absent) or g
@group(0) @binding(3) var<storage, read_write> STATS: array<f32>;
@group(0) @binding(4) var<storage, read_write> OUT: array<f32>;
// #params NormParams (src/ops/kernels/norm.ts); flags: 1 weight, 2 bias
@group(0) @binding(5) var<storage, read> params: Params;

// #include norm_common

// Passes over a row's elements first, first + step, ...: a workgroup strides by WG, a lone thread by 1.
fn write_normalized(r: u32, mean: f32, rstd: f32, first: u32, step: u32) {
  for (var j = first; j < params.count; j += step) {
    let a = addr(r, j);
    OUT[a] = (A[a] - mean) * rstd * weight(a) + bias(a);
  }
}

// (Σ gy, Σ gy·x̂) with gy = g·w.
fn grad_sums(r: u32, mean: f32, rstd: f32, first: u32, step: u32) -> vec2f {
  var s = vec2f(0.0);
  for (var j = first; j < params.count; j += step) {
    let a = addr(r, j);
    let gy = C[a] * weight(a);
    s += vec2f(gy, gy * (A[a] - mean) * rstd);
  }
  return s;
}

fn write_input_grad(r: u32, mean: f32, rstd: f32, m1: f32, m2: f32, first: u32, step: u32) {
  for (var j = first; j < params.count; j += step) {
    let a = addr(r, j);
    let xh = (A[a] - mean) * rstd;
    OUT[a] = rstd * (C[a] * weight(a) - m1 - xh * m2);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = wid.x + wid.y * nwg.x;
  let valid = r < params.rows; // uniform across the workgroup
  let count = params.count;
  let eps = params.eps;
  if (MODE == 0u) {
    var acc = Wf(0.0, 0.0, 0.0);
    if (valid) {
      for (var j = lid; j < count; j += WG) { acc = wf_push(acc, A[addr(r, j)]); }
    }
    sn[lid] = acc.n;
    sm[lid] = acc.m;
    sq[lid] = acc.q;
    tree(lid, true);
    if (!valid) { return; }
    let mean = sm[0];
    let variance = max(sq[0] / f32(count), 0.0);
    let rstd = inverseSqrt(variance + eps);
    if (lid == 0u) {
      STATS[2u * r] = mean;
      STATS[2u * r + 1u] = variance;
    }
    write_normalized(r, mean, rstd, lid, WG);
    return;
  }
  var mean = 0.0;
  var rstd = 0.0;
  if (valid) {
    mean = STATS[2u * r];
    rstd = inverseSqrt(STATS[2u * r + 1u] + eps);
  }
  var s = vec2f(0.0);
  if (valid) { s = grad_sums(r, mean, rstd, lid, WG); }
  sm[lid] = s.x;
  sq[lid] = s.y;
  tree(lid, false);
  if (!valid) { return; }
  write_input_grad(r, mean, rstd, sm[0] / f32(count), sq[0] / f32(count), lid, WG);
}

@compute @workgroup_size(64)
fn per_row(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= params.rows) { return; }
  let count = params.count;
  let eps = params.eps;
  if (MODE == 0u) {
    // Two passes, the mean then Σ (x − mean)² (no division per element as Welford's; as stable), over
    // values shifted by the row's first element: a long f32 sum near a large offset (1e4 + U(-1, 1))
    // would lose the fraction.
    let shift = A[addr(r, 0u)];
    var s = 0.0;
    for (var j = 0u; j < count; j++) { s += A[addr(r, j)] - shift; }
    let d = s / f32(count);
    var q = 0.0;
    for (var j = 0u; j < count; j++) {
      let v = A[addr(r, j)] - shift - d;
      q += v * v;
    }
    let mean = shift + d;
    let variance = max(q / f32(count), 0.0);
    let rstd = inverseSqrt(variance + eps);
    STATS[2u * r] = mean;
    STATS[2u * r + 1u] = variance;
    let S = params.S;
    if (SEG == 0u && count % S == 0u && r * params.rowStride % S == 0u) {
      // Whole parameter segments (GroupNorm's channels): the affine parameters read once per segment.
      for (var j0 = 0u; j0 < count; j0 += S) {
        let a0 = addr(r, j0);
        let w = weight(a0) * rstd;
        let b = bias(a0);
        for (var a = a0; a < a0 + S; a++) { OUT[a] = (A[a] - mean) * w + b; }
      }
    } else {
      write_normalized(r, mean, rstd, 0u, 1u);
    }
    return;
  }
  let mean = STATS[2u * r];
  let rstd = inverseSqrt(STATS[2u * r + 1u] + eps);
  let s = grad_sums(r, mean, rstd, 0u, 1u) / f32(count);
  write_input_grad(r, mean, rstd, s.x, s.y, 0u, 1u);
}
