// Fused scaled-dot-product attention, forward (flash-attention style): O = softmax(Q·Kᵀ·scale + mask)·V
// without an Lq×Lk buffer. One workgroup (8×8 threads) takes BQ = 8·RM query rows of one batch·head
// and walks the keys in tiles of BK = 8·RN:
//   1. Kᵀ tile → workgroup memory; S = Q·Kᵀ as register blocks (thread (ty, tx) owns rows ty + 8a,
//      keys tx + 8b), masked, → Ss;
//   2. row maxima from the 8 threads' partial maxima; each thread rescales its running max m and writes
//      exp(s − m) of its own block to Ss (online softmax, one rescale per tile); V tile → workgroup
//      memory (reusing K's space);
//   3. O block (rows ty + 8a, columns tx + 8c) = O·rescale + P·V and the row sums l, in registers.
// Saves the row's logsumexp (natural log) for the backward kernels. A row with every key masked gives
// NaN (output and logsumexp), as PyTorch's math path. Transposed tiles have odd strides (BQ + 1,
// BK + 1) so that the reads of neighbouring threads hit different banks.
// Template: CD, CV (head sizes of q/k and v over 8, rounded up), RM, RN; the sizes themselves are params.
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

var<private> NAN_BITS: u32 = 0x7fc00000u;

@group(0) @binding(0) var<storage, read> Q: array<f32>;   // [B, Lq, D]
@group(0) @binding(1) var<storage, read> K: array<f32>;   // [B, Lk, D]
@group(0) @binding(2) var<storage, read> V: array<f32>;   // [B, Lk, DV]
@group(0) @binding(3) var<storage, read> M: array<f32>;   // mask, strided (bound to Q without a mask)
@group(0) @binding(4) var<storage, read_write> O: array<f32>;   // [B, Lq, DV]
@group(0) @binding(5) var<storage, read_write> LSE: array<f32>; // [B, Lq]
// #params AttentionParams (src/ops/kernels/attention.ts)
@group(0) @binding(6) var<storage, read> params: Params;

var<workgroup> Qt: array<f32, D8 * QS>;                 // Qᵀ·scale: [d][row]
var<workgroup> KV: array<f32, max(D8 * KS, BK * DV8)>;   // Kᵀ [d][key], then V [key][c]
var<workgroup> Ss: array<f32, BQ * KS>;                // logits, then probabilities: [row][key]
var<workgroup> Mx: array<f32, BQ * 8u>;              // per-thread row maxima of a tile: [row][tx]

// #include attention_mask

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
// #include attention_params
  let nBK = params.keyBlocks;
  let ninf = -bitcast<f32>(INF_BITS);
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
  // Running max m and sum l of each of the thread's rows (the 8 threads of a row hold the same values).
  var m: array<f32, RM>;
  var l: array<f32, RM>;
  for (var a = 0u; a < RM; a++) { m[a] = ninf; }
  var acc: array<array<f32, CV>, RM>;
  var kEnd = lk;
  if (causal) { kEnd = min(lk, min(lq, r0 + BQ)); }

  for (var j0 = 0u; j0 < kEnd; j0 += BK) {
    workgroupBarrier();
    for (var j = ty; j < BK; j += 8u) {
      for (var d = tx; d < D; d += 8u) {
        var w = 0.0;
        if (j0 + j < lk) { w = K[(b * lk + j0 + j) * D + d]; }
        KV[d * KS + j] = w;
      }
    }
    workgroupBarrier();
    // Explicitly zeroed: some compilers hoist the variable out of the loop and skip the re-initialisation.
    var s: array<array<f32, RN>, RM>;
    for (var a = 0u; a < RM; a++) { for (var n = 0u; n < RN; n++) { s[a][n] = 0.0; } }
    for (var d = 0u; d < D; d++) {
      var qa: array<f32, RM>;
      var kb: array<f32, RN>;
      for (var a = 0u; a < RM; a++) { qa[a] = Qt[d * QS + ty + 8u * a]; }
      for (var n = 0u; n < RN; n++) { kb[n] = KV[d * KS + tx + 8u * n]; }
      for (var a = 0u; a < RM; a++) {
        for (var n = 0u; n < RN; n++) { s[a][n] = fma(qa[a], kb[n], s[a][n]); }
      }
    }
    // Mask, then each thread's maximum of its part of the row.
    for (var a = 0u; a < RM; a++) {
      let i = ty + 8u * a;
      var mx = ninf;
      for (var n = 0u; n < RN; n++) {
        s[a][n] = logit(s[a][n], min(r0 + i, lq - 1u), j0 + tx + 8u * n, lk, causal, mb);
        mx = max(mx, s[a][n]);
      }
      Mx[i * 8u + tx] = mx;
    }
    workgroupBarrier();
    // Row maxima, rescale factors, P = exp(s − m) of the thread's block; V tile over K's space.
    var alpha: array<f32, RM>;
    for (var a = 0u; a < RM; a++) {
      let i = ty + 8u * a;
      var mt = m[a];
      for (var t = 0u; t < 8u; t++) { mt = max(mt, Mx[i * 8u + t]); }
      alpha[a] = select(exp(m[a] - mt), 0.0, m[a] == ninf);
      m[a] = mt;
      for (var n = 0u; n < RN; n++) {
        let z = s[a][n];
        Ss[i * KS + tx + 8u * n] = select(exp(z - mt), 0.0, z == ninf);
      }
    }
    for (var j = ty; j < BK; j += 8u) {
      for (var c = tx; c < DV; c += 8u) {
        var w = 0.0;
        if (j0 + j < lk) { w = V[(b * lk + j0 + j) * DV + c]; }
        KV[j * DV + c] = w;
      }
    }
    workgroupBarrier();
    for (var a = 0u; a < RM; a++) {
      l[a] *= alpha[a];
      for (var c = 0u; c < CV; c++) { acc[a][c] *= alpha[a]; }
    }
    for (var j = 0u; j < nBK; j++) {
      var pa: array<f32, RM>;
      for (var a = 0u; a < RM; a++) {
        pa[a] = Ss[(ty + 8u * a) * KS + j];
        l[a] += pa[a];
      }
      for (var c = 0u; c < CV; c++) {
        let vv = KV[j * DV + min(tx + 8u * c, DV - 1u)];
        for (var a = 0u; a < RM; a++) { acc[a][c] = fma(pa[a], vv, acc[a][c]); }
      }
    }
  }

  let nan = bitcast<f32>(NAN_BITS);
  for (var a = 0u; a < RM; a++) {
    let i = ty + 8u * a;
    if (r0 + i >= lq) { continue; }
    let bad = !(l[a] > 0.0);
    let inv = 1.0 / l[a];
    for (var c = 0u; c < CV; c++) {
      let col = tx + 8u * c;
      if (col < DV) { O[(b * lq + r0 + i) * DV + col] = select(acc[a][c] * inv, nan, bad); }
    }
    if (tx == 0u) { LSE[b * lq + r0 + i] = select(m[a] + log(l[a]), nan, bad); }
  }
}
