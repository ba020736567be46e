// Normalisation of few, long rows: each row is cut into `chunks` chunks of `chunkLen` elements, one
// workgroup per (chunk, row) (dispatch [chunks, rows]), so that a GroupNorm with 64 rows of 40960
// elements still fills the GPU. Addressing, parameters and STATS as in norm_row.wgsl.
// MODE 0: forward partials: Welford (n, mean, M2) of each chunk → PART[3·(r·chunks + k) ..].
// MODE 1: forward apply: merge the row's partials (Chan), write STATS (chunk 0), normalise the chunk.
// MODE 2: backward partials: Σ gy and Σ gy·x̂ of each chunk → PART.
// MODE 3: backward apply: sum the row's partials, write dx for the chunk.
// A = x; C = bias (MODES 0, 1; bound to A when absent) or g (MODES 2, 3); OUT = y or dx.
const WG: u32 = 256u;
const MODE: u32 = {{MODE}}u;
const SEG: u32 = {{SEG}}u;

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
@group(0) @binding(2) var<storage, read> C: array<f32>;
@group(0) @binding(3) var<storage, read_write> STATS: array<f32>;
@group(0) @binding(4) var<storage, read_write> PART: array<f32>;
@group(0) @binding(5) var<storage, read_write> OUT: array<f32>;
// #params NormParams (src/ops/kernels/norm.ts)
@group(0) @binding(6) var<storage, read> params: Params;

// #include norm_common

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let k = wid.x;
  let r = wid.y;
  let count = params.count;
  let eps = params.eps;
  let chunks = params.chunks;
  let j0 = k * params.chunkLen;
  let j1 = min(j0 + params.chunkLen, count);
  let slot = 3u * (r * chunks + k);
  let first = 3u * r * chunks;
  if (MODE == 0u) {
    var acc = Wf(0.0, 0.0, 0.0);
    for (var j = j0 + lid; j < j1; j += WG) { acc = wf_push(acc, A[addr(r, j)]); }
    sn[lid] = acc.n;
    sm[lid] = acc.m;
    sq[lid] = acc.q;
    tree(lid, true);
    if (lid == 0u) {
      PART[slot] = sn[0];
      PART[slot + 1u] = sm[0];
      PART[slot + 2u] = sq[0];
    }
    return;
  }
  if (MODE == 1u) {
    var acc = Wf(0.0, 0.0, 0.0);
    if (lid < chunks) { acc = Wf(PART[first + 3u * lid], PART[first + 3u * lid + 1u], PART[first + 3u * lid + 2u]); }
    sn[lid] = acc.n;
    sm[lid] = acc.m;
    sq[lid] = acc.q;
    tree(lid, true);
    let mean = sm[0];
    let variance = max(sq[0] / f32(count), 0.0);
    let rstd = inverseSqrt(variance + eps);
    if (k == 0u && lid == 0u) {
      STATS[2u * r] = mean;
      STATS[2u * r + 1u] = variance;
    }
    for (var j = j0 + lid; j < j1; j += WG) {
      let a = addr(r, j);
      OUT[a] = (A[a] - mean) * rstd * weight(a) + bias(a);
    }
    return;
  }
  let mean = STATS[2u * r];
  let rstd = inverseSqrt(STATS[2u * r + 1u] + eps);
  if (MODE == 2u) {
    var s1 = 0.0;
    var s2 = 0.0;
    for (var j = j0 + lid; j < j1; j += WG) {
      let a = addr(r, j);
      let gy = C[a] * weight(a);
      s1 += gy;
      s2 += gy * (A[a] - mean) * rstd;
    }
    sm[lid] = s1;
    sq[lid] = s2;
    tree(lid, false);
    if (lid == 0u) {
      PART[slot] = sm[0];
      PART[slot + 1u] = sq[0];
    }
    return;
  }
  var p1 = 0.0;
  var p2 = 0.0;
  if (lid < chunks) {
    p1 = PART[first + 3u * lid];
    p2 = PART[first + 3u * lid + 1u];
  }
  sm[lid] = p1;
  sq[lid] = p2;
  tree(lid, false);
  let m1 = sm[0] / f32(count);
  let m2 = sq[0] / f32(count);
  for (var j = j0 + lid; j < j1; j += WG) {
    let a = addr(r, j);
    let xh = (A[a] - mean) * rstd;
    OUT[a] = rstd * (C[a] * weight(a) - m1 - xh * m2);
  }
}
