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
// #params NormParamParams (src/ops/kernels/norm.ts)
@group(0) @binding(4) var<storage, read> params: Params;

// #include pair_sums

fn xhat(a: u32) -> f32 {
  let r = (a / params.rowDiv) % params.rowMod;
  return (X[a] - STATS[2u * r]) * inverseSqrt(STATS[2u * r + 1u] + params.eps);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let nA = params.A;
  let nP = params.P;
  let nS = params.S;
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
    let t = pair_sums(vec2f(d1, d2), lid);
    if (valid && lid == 0u) {
      PART[o] = t.x;
      PART[nA * nP + o] = t.y;
    }
    return;
  }
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  let Q = nP * nS;
  let K = params.K;
  if (i >= K * Q) { return; }
  let k = i / Q;
  let q = i % Q;
  let a0 = k * params.chunkA;
  let a1 = min(a0 + params.chunkA, nA);
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
