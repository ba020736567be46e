// Fused attention backward, dK and dV (FlashAttention-2 style, no Lq×Lk buffer). One workgroup (8×8
// threads) takes BK = 8·RN keys of one batch·head (Kᵀ·scale and Vᵀ in workgroup memory) and walks the
// queries in tiles of BQ = 8·RM (Qᵀ, dOᵀ and (lse, D) in workgroup memory), recomputing P:
//   S, dP = Q·Kᵀ, dO·Vᵀ (register blocks: queries ty + 8a, keys tx + 8b);
//   P and dS = P ∘ (dP − D_i) → workgroup memory;
//   dV (keys ty + 8e, columns tx + 8c) += Pᵀ·dO,   dK += dSᵀ·Q (scaled once at the end).
// Under `causal` the queries before the workgroup's first key are skipped (they see none of its keys).
// Output: one buffer holding dK [B, Lk, D] followed by dV [B, Lk, DV] (8 storage bindings at most).
// Template and params as attention_fwd.wgsl.
const CD: u32 = {{CD}}u; // ceil(D / 8): dQ/dK columns per thread
const CV: u32 = {{CV}}u; // ceil(DV / 8): O/dV columns per thread
const D8: u32 = 8u * CD;  // head sizes rounded up, for the workgroup arrays
const DV8: u32 = 8u * CV;
const RM: u32 = {{RM}}u;
const RN: u32 = {{RN}}u;
const BQ: u32 = 8u * RM;
const BK: u32 = 8u * RN;
const QS: u32 = BQ + 1u;
const KS: u32 = BK + 1u;


@group(0) @binding(0) var<storage, read> Q: array<f32>;   // [B, Lq, D]
@group(0) @binding(1) var<storage, read> K: array<f32>;   // [B, Lk, D]
@group(0) @binding(2) var<storage, read> V: array<f32>;   // [B, Lk, DV]
@group(0) @binding(3) var<storage, read> M: array<f32>;   // mask (bound to Q without a mask)
@group(0) @binding(4) var<storage, read> G: array<f32>;   // dO [B, Lq, DV]
@group(0) @binding(5) var<storage, read> RD: array<vec2f>; // [B, Lq] (lse, D)
@group(0) @binding(6) var<storage, read_write> DKV: array<f32>; // dK [B, Lk, D] then dV [B, Lk, DV]
// #params AttentionParams (src/ops/kernels/attention.ts)
@group(0) @binding(7) var<storage, read> params: Params;

var<workgroup> Kt: array<f32, D8 * KS>;   // [d][key], pre-scaled
var<workgroup> Vt: array<f32, DV8 * KS>;  // [c][key]
var<workgroup> Qt: array<f32, D8 * QS>;   // [d][query]
var<workgroup> Gt: array<f32, DV8 * QS>;  // [c][query]
var<workgroup> Ps: array<f32, BQ * KS>;  // P [query][key]
var<workgroup> Ss: array<f32, BQ * KS>;  // dS [query][key]
var<workgroup> Rs: array<vec2f, BQ>;

// #include attention_mask

// #include attention_prob

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
// #include attention_params
  let nBK = params.keyBlocks;
  let tx = lid % 8u;
  let ty = lid / 8u;
  let c0 = wid.x * BK;
  let mb = mask_base(b);

  for (var j = ty; j < BK; j += 8u) {
    for (var d = tx; d < D; d += 8u) {
      var w = 0.0;
      if (c0 + j < lk) { w = K[(b * lk + c0 + j) * D + d] * scale; }
      Kt[d * KS + j] = w;
    }
  }
  for (var j = ty; j < BK; j += 8u) {
    for (var c = tx; c < DV; c += 8u) {
      var w = 0.0;
      if (c0 + j < lk) { w = V[(b * lk + c0 + j) * DV + c]; }
      Vt[c * KS + j] = w;
    }
  }
  var dk: array<array<f32, CD>, RN>;
  var dv: array<array<f32, CV>, RN>;
  var iStart = 0u;
  if (causal) { iStart = c0; }

  for (var i0 = iStart; i0 < lq; i0 += BQ) {
    workgroupBarrier();
    for (var i = ty; i < BQ; i += 8u) {
      for (var d = tx; d < D; d += 8u) {
        var w = 0.0;
        if (i0 + i < lq) { w = Q[(b * lq + i0 + i) * D + d]; }
        Qt[d * QS + i] = w;
      }
    }
    for (var i = ty; i < BQ; i += 8u) {
      for (var c = tx; c < DV; c += 8u) {
        var w = 0.0;
        if (i0 + i < lq) { w = G[(b * lq + i0 + i) * DV + c]; }
        Gt[c * QS + i] = w;
      }
    }
    if (lid < BQ) { Rs[lid] = select(vec2f(0.0), RD[b * lq + min(i0 + lid, lq - 1u)], i0 + lid < lq); }
    workgroupBarrier();
    // Explicitly zeroed: some compilers hoist the variable out of the loop and skip the re-initialisation.
    var s: array<array<f32, RN>, RM>;
    for (var a = 0u; a < RM; a++) { for (var n = 0u; n < RN; n++) { s[a][n] = 0.0; } }
    var dp: array<array<f32, RN>, RM>;
    for (var a = 0u; a < RM; a++) { for (var n = 0u; n < RN; n++) { dp[a][n] = 0.0; } }
    for (var d = 0u; d < D; d++) {
      var qa: array<f32, RM>;
      var kb: array<f32, RN>;
      for (var a = 0u; a < RM; a++) { qa[a] = Qt[d * QS + ty + 8u * a]; }
      for (var n = 0u; n < RN; n++) { kb[n] = Kt[d * KS + tx + 8u * n]; }
      for (var a = 0u; a < RM; a++) {
        for (var n = 0u; n < RN; n++) { s[a][n] = fma(qa[a], kb[n], s[a][n]); }
      }
    }
    for (var c = 0u; c < DV; c++) {
      var ga: array<f32, RM>;
      var vb: array<f32, RN>;
      for (var a = 0u; a < RM; a++) { ga[a] = Gt[c * QS + ty + 8u * a]; }
      for (var n = 0u; n < RN; n++) { vb[n] = Vt[c * KS + tx + 8u * n]; }
      for (var a = 0u; a < RM; a++) {
        for (var n = 0u; n < RN; n++) { dp[a][n] = fma(ga[a], vb[n], dp[a][n]); }
      }
    }
    for (var a = 0u; a < RM; a++) {
      let i = ty + 8u * a;
      let rd = Rs[i];
      let valid = i0 + i < lq;
      for (var n = 0u; n < RN; n++) {
        let j = tx + 8u * n;
        let p = select(0.0, prob(logit(s[a][n], min(i0 + i, lq - 1u), c0 + j, lk, causal, mb), rd.x), valid);
        Ps[i * KS + j] = p;
        Ss[i * KS + j] = p * (dp[a][n] - rd.y);
      }
    }
    workgroupBarrier();
    let iEnd = min(BQ, lq - i0);
    for (var i = 0u; i < iEnd; i++) {
      var pe: array<f32, RN>;
      var de: array<f32, RN>;
      for (var e = 0u; e < RN; e++) {
        pe[e] = Ps[i * KS + ty + 8u * e];
        de[e] = Ss[i * KS + ty + 8u * e];
      }
      for (var c = 0u; c < CV; c++) {
        let g = Gt[min(tx + 8u * c, DV - 1u) * QS + i];
        for (var e = 0u; e < RN; e++) { dv[e][c] = fma(pe[e], g, dv[e][c]); }
      }
      for (var c = 0u; c < CD; c++) {
        let q = Qt[min(tx + 8u * c, D - 1u) * QS + i];
        for (var e = 0u; e < RN; e++) { dk[e][c] = fma(de[e], q, dk[e][c]); }
      }
    }
  }

  for (var e = 0u; e < RN; e++) {
    let j = c0 + ty + 8u * e;
    if (j >= lk) { continue; }
    for (var c = 0u; c < CD; c++) {
      let col = tx + 8u * c;
      if (col < D) { DKV[(b * lk + j) * D + col] = dk[e][c] * scale; }
    }
    for (var c = 0u; c < CV; c++) {
      let col = tx + 8u * c;
      if (col < DV) { DKV[nb * lk * D + (b * lk + j) * DV + col] = dv[e][c]; }
    }
  }
}
