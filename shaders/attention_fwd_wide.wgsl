// Fused attention forward, "wide" variant for GPUs (same contract as attention_fwd.wgsl): 16×16
// threads, a BQ×BK = 16RM×16RN logits tile per step, each thread an RM×RN block read from workgroup
// memory as one VM (RM rows) and one VN (RN keys) vector per d — the layout of matmul_tiled.wgsl.
// Transposed tiles ([d][group of RM rows or RN keys]) have a padded stride of PS = 17 vectors, so that
// both the GEMM reads (consecutive groups) and the accumulation reads (stride PS) avoid bank conflicts.
// Per key tile: Kᵀ → KV; S = Q·Kᵀ; masked; row maxima through Pt; P = exp(S − m) → Pt as
// [key][row group]; Vᵀ → KV (over K); O (rows ty·RM + a, columns tx + 16c) += P·V with the online
// softmax rescale. Template: RM, RN, VM, VN (vecRMf, vecRNf), DA, DVA (head sizes rounded up to 8).
const RM: u32 = {{RM}}u;
const RN: u32 = {{RN}}u;
alias VM = {{VM}};
alias VN = {{VN}};
const DA: u32 = {{DA}}u;
const DVA: u32 = {{DVA}}u;
const BQ: u32 = 16u * RM;
const BK: u32 = 16u * RN;
const PS: u32 = 17u;
const CV: u32 = (DVA + 15u) / 16u;

var<private> NAN_BITS: u32 = 0x7fc00000u;

@group(0) @binding(0) var<storage, read> Q: array<f32>;   // [B, Lq, D]
@group(0) @binding(1) var<storage, read> K: array<f32>;   // [B, Lk, D]
@group(0) @binding(2) var<storage, read> V: array<f32>;   // [B, Lk, DV]
@group(0) @binding(3) var<storage, read> M: array<f32>;   // mask, strided (bound to Q without a mask)
@group(0) @binding(4) var<storage, read_write> O: array<f32>;   // [B, Lq, DV]
@group(0) @binding(5) var<storage, read_write> LSE: array<f32>; // [B, Lq]
// #params AttentionParams (src/ops/kernels/attention.ts)
@group(0) @binding(6) var<storage, read> params: Params;

var<workgroup> Qt: array<VM, DA * PS>;            // Qᵀ·scale: [d][row group]
var<workgroup> KV: array<VN, max(DA, DVA) * PS>;  // Kᵀ [d][key group], then Vᵀ [c][key group]
var<workgroup> Pt: array<VM, BK * PS>;            // row maxima [tx][ty], then P: [key][row group]

// #include attention_mask

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
// #include attention_params
  let ninf = -bitcast<f32>(INF_BITS);
  let tx = lid % 16u;
  let ty = lid / 16u;
  let r0 = wid.x * BQ;
  let mb = mask_base(b);

  for (var i = ty; i < BQ; i += 16u) {
    for (var d = tx; d < D; d += 16u) {
      var w = 0.0;
      if (r0 + i < lq) { w = Q[(b * lq + r0 + i) * D + d] * scale; }
      Qt[d * PS + i / RM][i % RM] = w;
    }
  }
  var m: array<f32, RM>;
  var l: array<f32, RM>;
  var acc: array<array<f32, CV>, RM>;
  for (var a = 0u; a < RM; a++) {
    m[a] = ninf;
    l[a] = 0.0;
    for (var c = 0u; c < CV; c++) { acc[a][c] = 0.0; }
  }
  var kEnd = lk;
  if (causal) { kEnd = min(lk, min(lq, r0 + BQ)); }

  for (var j0 = 0u; j0 < kEnd; j0 += BK) {
    workgroupBarrier();
    for (var j = ty; j < BK; j += 16u) {
      for (var d = tx; d < D; d += 16u) {
        var w = 0.0;
        if (j0 + j < lk) { w = K[(b * lk + j0 + j) * D + d]; }
        KV[d * PS + j / RN][j % RN] = w;
      }
    }
    workgroupBarrier();
    var s: array<array<f32, RN>, RM>;
    for (var a = 0u; a < RM; a++) { for (var n = 0u; n < RN; n++) { s[a][n] = 0.0; } }
    for (var d = 0u; d < D; d++) {
      let qa = Qt[d * PS + ty];
      let kb = KV[d * PS + tx];
      for (var a = 0u; a < RM; a++) {
        for (var n = 0u; n < RN; n++) { s[a][n] = fma(qa[a], kb[n], s[a][n]); }
      }
    }
    var mx: VM;
    for (var a = 0u; a < RM; a++) {
      let i = ty * RM + a;
      var t = ninf;
      for (var n = 0u; n < RN; n++) {
        s[a][n] = logit(s[a][n], min(r0 + i, lq - 1u), j0 + tx * RN + n, lk, causal, mb);
        t = max(t, s[a][n]);
      }
      mx[a] = t;
    }
    Pt[tx * PS + ty] = mx;
    workgroupBarrier();
    var alpha: array<f32, RM>;
    var mt: VM = mx;
    for (var t = 0u; t < 16u; t++) { mt = max(mt, Pt[t * PS + ty]); }
    for (var a = 0u; a < RM; a++) {
      let mn = max(m[a], mt[a]);
      alpha[a] = select(exp(m[a] - mn), 0.0, m[a] == ninf);
      m[a] = mn;
    }
    workgroupBarrier();
    for (var n = 0u; n < RN; n++) {
      var pv: VM;
      for (var a = 0u; a < RM; a++) {
        let z = s[a][n];
        pv[a] = select(exp(z - m[a]), 0.0, z == ninf);
      }
      Pt[(tx * RN + n) * PS + ty] = pv;
    }
    for (var j = ty; j < BK; j += 16u) {
      for (var c = tx; c < DV; c += 16u) {
        var w = 0.0;
        if (j0 + j < lk) { w = V[(b * lk + j0 + j) * DV + c]; }
        KV[c * PS + j / RN][j % RN] = w;
      }
    }
    workgroupBarrier();
    for (var a = 0u; a < RM; a++) {
      l[a] *= alpha[a];
      for (var c = 0u; c < CV; c++) { acc[a][c] *= alpha[a]; }
    }
    for (var g = 0u; g < 16u; g++) {
      var pv: array<VM, RN>;
      for (var n = 0u; n < RN; n++) {
        pv[n] = Pt[(g * RN + n) * PS + ty];
        for (var a = 0u; a < RM; a++) { l[a] += pv[n][a]; }
      }
      for (var c = 0u; c < CV; c++) {
        let vv = KV[min(tx + 16u * c, DV - 1u) * PS + g];
        for (var n = 0u; n < RN; n++) {
          for (var a = 0u; a < RM; a++) { acc[a][c] = fma(pv[n][a], vv[n], acc[a][c]); }
        }
      }
    }
  }

  let nan = bitcast<f32>(NAN_BITS);
  for (var a = 0u; a < RM; a++) {
    let i = ty * RM + a;
    if (r0 + i >= lq) { continue; }
    let bad = !(l[a] > 0.0);
    let inv = 1.0 / l[a];
    for (var c = 0u; c < CV; c++) {
      let col = tx + 16u * c;
      if (col < DV) { O[(b * lq + r0 + i) * DV + col] = select(acc[a][c] * inv, nan, bad); }
    }
    if (tx == 0u) { LSE[b * lq + r0 + i] = select(m[a] + log(l[a]), nan, bad); }
  }
}
