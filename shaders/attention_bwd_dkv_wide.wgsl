// Fused attention backward dK, dV, "wide" variant for GPUs (same contract and output layout as
// attention_bwd_dkv.wgsl; tiles as attention_fwd_wide.wgsl). One workgroup owns BK = 16·RN keys
// (Kᵀ·scale and Vᵀ resident) and walks the queries in tiles of BQ = 16·RM: S = Q·Kᵀ and dP = dO·Vᵀ
// (queries ty·RM + a, keys tx·RN + n); P → Pk as [query][key group], then each thread owns keys
// ty·RN + n and columns tx + 16c: dV += Pᵀ·dO; dS → Pk; dK += dSᵀ·Q (scaled once at the end).
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
const CV: u32 = (DVA + 15u) / 16u;


@group(0) @binding(0) var<storage, read> Q: array<f32>;   // [B, Lq, D]
@group(0) @binding(1) var<storage, read> K: array<f32>;   // [B, Lk, D]
@group(0) @binding(2) var<storage, read> V: array<f32>;   // [B, Lk, DV]
@group(0) @binding(3) var<storage, read> M: array<f32>;   // mask (bound to Q without a mask)
@group(0) @binding(4) var<storage, read> G: array<f32>;   // dO [B, Lq, DV]
@group(0) @binding(5) var<storage, read> RD: array<vec2f>; // [B, Lq] (lse, D)
@group(0) @binding(6) var<storage, read_write> DKV: array<f32>; // dK [B, Lk, D] then dV [B, Lk, DV]
// #params AttentionParams (src/ops/kernels/attention.ts)
@group(0) @binding(7) var<storage, read> params: Params;

var<workgroup> Kt: array<VN, DA * PS>;   // Kᵀ·scale [d][key group]
var<workgroup> Vt: array<VN, DVA * PS>;  // Vᵀ [c][key group]
var<workgroup> Qt: array<VM, DA * PS>;   // Qᵀ [d][query group]
var<workgroup> Gt: array<VM, DVA * PS>;  // dOᵀ [c][query group]
var<workgroup> Pk: array<VN, BQ * PS>;   // P, then dS: [query][key group]
var<workgroup> Rs: array<vec2f, BQ>;

// #include attention_mask

// #include attention_prob

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
// #include attention_params
  let tx = lid % 16u;
  let ty = lid / 16u;
  let c0 = wid.x * BK;
  let mb = mask_base(b);

  for (var j = ty; j < BK; j += 16u) {
    let ok = c0 + j < lk;
    for (var d = tx; d < D; d += 16u) {
      var w = 0.0;
      if (ok) { w = K[(b * lk + c0 + j) * D + d] * scale; }
      Kt[d * PS + j / RN][j % RN] = w;
    }
    for (var c = tx; c < DV; c += 16u) {
      var w = 0.0;
      if (ok) { w = V[(b * lk + c0 + j) * DV + c]; }
      Vt[c * PS + j / RN][j % RN] = w;
    }
  }
  var dk: array<array<f32, CD>, RN>;
  var dv: array<array<f32, CV>, RN>;
  for (var n = 0u; n < RN; n++) {
    for (var c = 0u; c < CD; c++) { dk[n][c] = 0.0; }
    for (var c = 0u; c < CV; c++) { dv[n][c] = 0.0; }
  }
  var iStart = 0u;
  if (causal) { iStart = c0; }

  for (var i0 = iStart; i0 < lq; i0 += BQ) {
    workgroupBarrier();
    for (var i = ty; i < BQ; i += 16u) {
      let ok = i0 + i < lq;
      for (var d = tx; d < D; d += 16u) {
        var w = 0.0;
        if (ok) { w = Q[(b * lq + i0 + i) * D + d]; }
        Qt[d * PS + i / RM][i % RM] = w;
      }
      for (var c = tx; c < DV; c += 16u) {
        var w = 0.0;
        if (ok) { w = G[(b * lq + i0 + i) * DV + c]; }
        Gt[c * PS + i / RM][i % RM] = w;
      }
    }
    if (lid < BQ) { Rs[lid] = select(vec2f(0.0), RD[b * lq + min(i0 + lid, lq - 1u)], i0 + lid < lq); }
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
    var sv: array<VN, RM>;
    for (var a = 0u; a < RM; a++) {
      let i = ty * RM + a;
      let rd = Rs[i];
      let ok = i0 + i < lq;
      var pv: VN;
      for (var n = 0u; n < RN; n++) {
        let p = select(0.0, prob(logit(s[a][n], min(i0 + i, lq - 1u), c0 + tx * RN + n, lk, causal, mb), rd.x), ok);
        pv[n] = p;
        sv[a][n] = p * (dp[a][n] - rd.y);
      }
      Pk[i * PS + tx] = pv;
    }
    workgroupBarrier();
    for (var g = 0u; g < 16u; g++) {
      var pk: array<VN, RM>;
      for (var a = 0u; a < RM; a++) { pk[a] = Pk[(g * RM + a) * PS + ty]; }
      for (var c = 0u; c < CV; c++) {
        let gv = Gt[min(tx + 16u * c, DV - 1u) * PS + g];
        for (var a = 0u; a < RM; a++) {
          for (var n = 0u; n < RN; n++) { dv[n][c] = fma(pk[a][n], gv[a], dv[n][c]); }
        }
      }
    }
    // dS reuses P's space.
    workgroupBarrier();
    for (var a = 0u; a < RM; a++) { Pk[(ty * RM + a) * PS + tx] = sv[a]; }
    workgroupBarrier();
    for (var g = 0u; g < 16u; g++) {
      var sk: array<VN, RM>;
      for (var a = 0u; a < RM; a++) { sk[a] = Pk[(g * RM + a) * PS + ty]; }
      for (var c = 0u; c < CD; c++) {
        let qv = Qt[min(tx + 16u * c, D - 1u) * PS + g];
        for (var a = 0u; a < RM; a++) {
          for (var n = 0u; n < RN; n++) { dk[n][c] = fma(sk[a][n], qv[a], dk[n][c]); }
        }
      }
    }
  }

  for (var n = 0u; n < RN; n++) {
    let j = c0 + ty * RN + n;
    if (j >= lk) { continue; }
    for (var c = 0u; c < CD; c++) {
      let col = tx + 16u * c;
      if (col < D) { DKV[(b * lk + j) * D + col] = dk[n][c] * scale; }
    }
    for (var c = 0u; c < CV; c++) {
      let col = tx + 16u * c;
      if (col < DV) { DKV[nb * lk * D + (b * lk + j) * DV + col] = dv[n][c]; }
    }
  }
}
