// Fused attention backward, dQ (FlashAttention-2 style, no Lq×Lk buffer). One workgroup (8×8 threads)
// takes BQ = 8·RM query rows of one batch·head (Qᵀ·scale and dOᵀ in workgroup memory) and walks the
// keys in tiles of BK = 8·RN (Kᵀ and Vᵀ in workgroup memory), recomputing P from the saved lse:
//   S, dP = Q·Kᵀ, dO·Vᵀ (register blocks: rows ty + 8a, keys tx + 8b);
//   dS = P ∘ (dP − D_i) → workgroup memory;   dQ (rows ty + 8a, columns tx + 8c) += dS·K.
// dQ is scaled once at the end. Template and params as attention_fwd.wgsl.
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
@group(0) @binding(6) var<storage, read_write> DQ: array<f32>; // [B, Lq, D]
// #params AttentionParams (src/ops/kernels/attention.ts)
@group(0) @binding(7) var<storage, read> params: Params;

var<workgroup> Qt: array<f32, D8 * QS>;   // [d][row], pre-scaled
var<workgroup> Gt: array<f32, DV8 * QS>;  // [c][row]
var<workgroup> Kt: array<f32, D8 * KS>;   // [d][key]
var<workgroup> Vt: array<f32, DV8 * KS>;  // [c][key]
var<workgroup> Ss: array<f32, BQ * KS>;  // dS [row][key]
var<workgroup> Rs: array<vec2f, BQ>;

// #include attention_mask

// #include attention_prob

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
// #include attention_params
  let nBK = params.keyBlocks;
  let tx = lid % 8u;
  let ty = lid / 8u;
  let r0 = wid.x * BQ;
  let mb = mask_base(b);

  for (var i = ty; i < BQ; i += 8u) {
    for (var d = tx; d < D; d += 8u) {
      var w = 0.0;
      if (r0 + i < lq) { w = Q[(b * lq + r0 + i) * D + d] * scale; }
      Qt[d * QS + i] = w;
    }
  }
  for (var i = ty; i < BQ; i += 8u) {
    for (var c = tx; c < DV; c += 8u) {
      var w = 0.0;
      if (r0 + i < lq) { w = G[(b * lq + r0 + i) * DV + c]; }
      Gt[c * QS + i] = w;
    }
  }
  if (lid < BQ) { Rs[lid] = select(vec2f(0.0), RD[b * lq + min(r0 + lid, lq - 1u)], r0 + lid < lq); }
  var dq: array<array<f32, CD>, RM>;
  var kEnd = lk;
  if (causal) { kEnd = min(lk, min(lq, r0 + BQ)); }

  for (var j0 = 0u; j0 < kEnd; j0 += BK) {
    workgroupBarrier();
    for (var j = ty; j < BK; j += 8u) {
      for (var d = tx; d < D; d += 8u) {
        var w = 0.0;
        if (j0 + j < lk) { w = K[(b * lk + j0 + j) * D + d]; }
        Kt[d * KS + j] = w;
      }
    }
    for (var j = ty; j < BK; j += 8u) {
      for (var c = tx; c < DV; c += 8u) {
        var w = 0.0;
        if (j0 + j < lk) { w = V[(b * lk + j0 + j) * DV + c]; }
        Vt[c * KS + j] = w;
      }
    }
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
      for (var n = 0u; n < RN; n++) {
        let j = tx + 8u * n;
        let p = prob(logit(s[a][n], min(r0 + i, lq - 1u), j0 + j, lk, causal, mb), rd.x);
        Ss[i * KS + j] = select(p * (dp[a][n] - rd.y), 0.0, r0 + i >= lq);
      }
    }
    workgroupBarrier();
    for (var j = 0u; j < nBK; j++) {
      var da: array<f32, RM>;
      for (var a = 0u; a < RM; a++) { da[a] = Ss[(ty + 8u * a) * KS + j]; }
      for (var c = 0u; c < CD; c++) {
        let kk = Kt[min(tx + 8u * c, D - 1u) * KS + j];
        for (var a = 0u; a < RM; a++) { dq[a][c] = fma(da[a], kk, dq[a][c]); }
      }
    }
  }

  for (var a = 0u; a < RM; a++) {
    let i = ty + 8u * a;
    if (r0 + i >= lq) { continue; }
    for (var c = 0u; c < CD; c++) {
      let col = tx + 8u * c;
      if (col < D) { DQ[(b * lq + r0 + i) * D + col] = dq[a][c] * scale; }
    }
  }
}
