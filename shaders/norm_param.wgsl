// Partial sums for the affine parameters' gradients of a normalisation: dw[p] = Σ g·x̂, db[p] = Σ g over
// x viewed as [A, P, S] (p: the parameter index). x̂ = (x − mean)·rstd with the statistics of row
// (addr / rowDiv) % rowMod (STATS as in norm_row.wgsl).
// MODE 0 (long S): one workgroup per (a, p), reducing over s → PART[o], PART[A·P + o], o = a·P + p.
// MODE 1 (short S): one thread per (chunk k of A, q ∈ [0, P·S)), looping over its a's (coalesced
//                   across q) → PART[i], PART[K·P·S + i], i = k·P·S + q.
// norm_param_final.wgsl then sums the partials per p.
const WG: u32 = 64u;
const MODE: u32 = {{MODE}}u;

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> STATS: array<f32>;
@group(0) @binding(3) var<storage, read_write> PART: array<f32>;
// A, P, S, rowDiv, rowMod, eps bits, K, chunkA
@group(0) @binding(4) var<storage, read> params: array<u32>;

var<workgroup> s1: array<f32, WG>;
var<workgroup> s2: array<f32, WG>;

fn xhat(a: u32) -> f32 {
  let r = (a / params[3]) % params[4];
  return (X[a] - STATS[2u * r]) * inverseSqrt(STATS[2u * r + 1u] + bitcast<f32>(params[5]));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let nA = params[0];
  let nP = params[1];
  let nS = params[2];
  if (MODE == 0u) {
    let o = wid.x + wid.y * nwg.x;
    let valid = o < nA * nP;
    var d1 = 0.0;
    var d2 = 0.0;
    if (valid) {
      for (var s = lid; s < nS; s += WG) {
        let a = o * nS + s;
        let g = G[a];
        d1 += g * xhat(a);
        d2 += g;
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
      PART[o] = s1[0];
      PART[nA * nP + o] = s2[0];
    }
    return;
  }
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  let Q = nP * nS;
  let K = params[6];
  if (i >= K * Q) { return; }
  let k = i / Q;
  let q = i % Q;
  let a0 = k * params[7];
  let a1 = min(a0 + params[7], nA);
  var d1 = 0.0;
  var d2 = 0.0;
  for (var a = a0; a < a1; a++) {
    let e = a * Q + q;
    let g = G[e];
    d1 += g * xhat(e);
    d2 += g;
  }
  PART[i] = d1;
  PART[K * Q + i] = d2;
}
