// Fused attention backward dQ, "wide" variant for GPUs (same contract as attention_bwd_dq.wgsl; layout
// as attention_fwd_wide.wgsl). Per key tile: Kᵀ, Vᵀ → workgroup memory; S = Q·Kᵀ and dP = dO·Vᵀ as
// RM×RN register blocks; dS = P ∘ (dP − D_i) → Dt as [key][row group]; dQ (rows ty·RM + a, columns
// tx + 16c) += dS·K. dQ is scaled once at the end.
const RM: u32 = {{RM}}u;
const RN: u32 = {{RN}}u;
alias VM = {{VM}};
alias VN = {{VN}};
const DA: u32 = {{DA}}u;
const DVA: u32 = {{DVA}}u;
const BQ: u32 = 16u * RM;
const BK: u32 = 16u * RN;
const PS: u32 = 17u;
const CD: u32 = (DA + 15u) / 16u;


@group(0) @binding(0) var<storage, read> Q: array<f32>;   // [B, Lq, D]
@group(0) @binding(1) var<storage, read> K: array<f32>;   // [B, Lk, D]
@group(0) @binding(2) var<storage, read> V: array<f32>;   // [B, Lk, DV]
@group(0) @binding(3) var<storage, read> M: array<f32>;   // mask (bound to Q without a mask)
@group(0) @binding(4) var<storage, read> G: array<f32>;   // dO [B, Lq, DV]
@group(0) @binding(5) var<storage, read> RD: array<vec2f>; // [B, Lq] (lse, D)
@group(0) @binding(6) var<storage, read_write> DQ: array<f32>; // [B, Lq, D]
// #params AttentionParams (src/ops/kernels/attention.ts)
@group(0) @binding(7) var<storage, read> params: Params;

var<workgroup> Qt: array<VM, DA * PS>;   // Qᵀ·scale [d][row group]
var<workgroup> Gt: array<VM, DVA * PS>;  // dOᵀ [c][row group]
var<workgroup> Kt: array<VN, DA * PS>;   // Kᵀ [d][key group]
var<workgroup> Vt: array<VN, DVA * PS>;  // Vᵀ [c][key group]
var<workgroup> Dt: array<VM, BK * PS>;   // dS [key][row group]
var<workgroup> Rs: array<vec2f, BQ>;

// #include attention_mask

// #include attention_prob

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
// #include attention_params
  let tx = lid % 16u;
  let ty = lid / 16u;
  let r0 = wid.x * BQ;
  let mb = mask_base(b);

  for (var i = ty; i < BQ; i += 16u) {
    let ok = r0 + i < lq;
    for (var d = tx; d < D; d += 16u) {
      var w = 0.0;
      if (ok) { w = Q[(b * lq + r0 + i) * D + d] * scale; }
      Qt[d * PS + i / RM][i % RM] = w;
    }
    for (var c = tx; c < DV; c += 16u) {
      var w = 0.0;
      if (ok) { w = G[(b * lq + r0 + i) * DV + c]; }
      Gt[c * PS + i / RM][i % RM] = w;
    }
  }
  if (lid < BQ) { Rs[lid] = select(vec2f(0.0), RD[b * lq + min(r0 + lid, lq - 1u)], r0 + lid < lq); }
  var dq: array<array<f32, CD>, RM>;
  for (var a = 0u; a < RM; a++) { for (var c = 0u; c < CD; c++) { dq[a][c] = 0.0; } }
  var kEnd = lk;
  if (causal) { kEnd = min(lk, min(lq, r0 + BQ)); }

  for (var j0 = 0u; j0 < kEnd; j0 += BK) {
    workgroupBarrier();
    for (var j = ty; j < BK; j += 16u) {
      let ok = j0 + j < lk;
      for (var d = tx; d < D; d += 16u) {
        var w = 0.0;
        if (ok) { w = K[(b * lk + j0 + j) * D + d]; }
        Kt[d * PS + j / RN][j % RN] = w;
      }
      for (var c = tx; c < DV; c += 16u) {
        var w = 0.0;
        if (ok) { w = V[(b * lk + j0 + j) * DV + c]; }
        Vt[c * PS + j / RN][j % RN] = w;
      }
    }
    workgroupBarrier();
    var s: array<array<f32, RN>, RM>;
    var dp: array<array<f32, RN>, RM>;
    for (var a = 0u; a < RM; a++) {
      for (var n = 0u; n < RN; n++) {
        s[a][n] = 0.0;
        dp[a][n] = 0.0;
      }
    }
    for (var d = 0u; d < D; d++) {
      let qa = Qt[d * PS + ty];
      let kb = Kt[d * PS + tx];
      for (var a = 0u; a < RM; a++) {
        for (var n = 0u; n < RN; n++) { s[a][n] = fma(qa[a], kb[n], s[a][n]); }
      }
    }
    for (var c = 0u; c < DV; c++) {
      let ga = Gt[c * PS + ty];
      let vb = Vt[c * PS + tx];
      for (var a = 0u; a < RM; a++) {
        for (var n = 0u; n < RN; n++) { dp[a][n] = fma(ga[a], vb[n], dp[a][n]); }
      }
    }
    for (var n = 0u; n < RN; n++) {
      var dv: VM;
      for (var a = 0u; a < RM; a++) {
        let i = ty * RM + a;
        let rd = Rs[i];
        let p = prob(logit(s[a][n], min(r0 + i, lq - 1u), j0 + tx * RN + n, lk, causal, mb), rd.x);
        dv[a] = select(p * (dp[a][n] - rd.y), 0.0, r0 + i >= lq);
      }
      Dt[(tx * RN + n) * PS + ty] = dv;
    }
    workgroupBarrier();
    for (var g = 0u; g < 16u; g++) {
      var ds: array<VM, RN>;
      for (var n = 0u; n < RN; n++) { ds[n] = Dt[(g * RN + n) * PS + ty]; }
      for (var c = 0u; c < CD; c++) {
        let kv = Kt[min(tx + 16u * c, D - 1u) * PS + g];
        for (var n = 0u; n < RN; n++) {
          for (var a = 0u; a < RM; a++) { dq[a][c] = fma(ds[n][a], kv[n], dq[a][c]); }
        }
      }
    }
  }

  for (var a = 0u; a < RM; a++) {
    let i = ty * RM + a;
    if (r0 + i >= lq) { continue; }
    for (var c = 0u; c < CD; c++) {
      let col = tx + 16u * c;
      if (col < D) { DQ[(b * lq + r0 + i) * D + col] = dq[a][c] * scale; }
    }
  }
}
