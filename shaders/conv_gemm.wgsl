// Implicit-GEMM 2-D convolution (NCHW, f32), register-blocked, one workgroup per BM x BN tile of
// C[M, N] = sum_k A[M, K] * B[K, N] for group g. No im2col buffer: B (and A in MODE 2) is read
// straight from the image with the convolution's index math. Geometry of every mode:
//   ih = oh * SH - pt + kh * DH,  iw = ow * SW - pl + kw * DW   (x: [Bt, C, H, W], dy: [Bt, Co, OH, OW])
// MODE 0, forward:      M = Co/G (co), N = Bt*OH*OW (b, oh, ow), K = Cg*KH*KW (ci, kh, kw)
//                       A = w [Co, Cg*T] rows, B = im2col(x); out y [Bt, Co, OH, OW] (+ bias[co])
// MODE 1, input grad:   M = Cg (ci), N = Bt*H*W (b, ih, iw), K = Mg*T (co, kh, kw)
//   (= conv-transpose)  A = w permuted to [G*Cg, Mg*T] rows, B = dy gathered where oh, ow are integral
//                       and in range; out dx [Bt, C, H, W] (+ bias[c])
// MODE 2, weight grad:  M = Mg (co), N = Cg*T (ci, kh, kw), K = Bt*OH*OW (b, oh, ow)
//                       A = dy, B = im2col(x) transposed; out dw [Co, Cg, KH, KW]
// In MODE 0 and in MODE 1 with stride 1, the K index of B is decoded from a table `ktab` built on the
// CPU: k -> (element offset, row shift, column shift) relative to the thread's fixed column.
// Each thread owns TM x TN outputs as (TM/4) x (TN/4) blocks of 4 x 4, strided across the tile so that
// the vec4 reads of workgroup memory are conflict-free.
// Loops over compile-time bounds are unrolled textually before compilation (src/ops/kernels/conv.ts),
// so the per-thread arrays stay in registers.
// Global loads for tile t+1 are issued into registers while tile t is multiplied from workgroup memory
// (two workgroup buffers: one barrier per tile). Split-K: workgroup z = split * G + g sums tiles
// [split * tilesPerSplit, ...) into its own slice dst[split * outSize + ...]; conv_reduce.wgsl adds them.
const MODE: u32 = {{MODE}}u;
const BM: u32 = {{BM}}u;
const BN: u32 = {{BN}}u;
const BK: u32 = {{BK}}u;
const TM: u32 = {{TM}}u;
const TN: u32 = {{TN}}u;
const RM: u32 = TM / 4u;
const RN: u32 = TN / 4u;
const NTX: u32 = BN / TN;
const NTY: u32 = BM / TM;
const NT: u32 = NTX * NTY;
const LA: u32 = BM * BK / NT; // A elements each thread loads per tile
const LB: u32 = BK * BN / NT; // B elements each thread loads per tile
// Workgroup rows padded by 4 floats: the transposing stores hit distinct banks, vec4 reads stay aligned.
const ASTR: u32 = BM + 4u;
const BSTR: u32 = BN + 4u;
// Thread (tx, ty) of the output grid: with WARPTILE, each 32 consecutive threads form an 8 x 4 block,
// so a warp reads 8 distinct B and 4 distinct A fragments per k (less workgroup-memory traffic).
const WARPTILE: bool = NTX % 8u == 0u && NTY % 4u == 0u;
fn threadX(t: u32) -> u32 {
  if (WARPTILE) { return ((t / 32u) % (NTX / 8u)) * 8u + t % 8u; }
  return t % NTX;
}
fn threadY(t: u32) -> u32 {
  if (WARPTILE) { return ((t / 32u) / (NTX / 8u)) * 4u + (t % 32u) / 8u; }
  return t / NTX;
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> Bsrc: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> ktab: array<vec4<i32>>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
// #params ConvParams (src/ops/kernels/conv-params.ts)
@group(0) @binding(5) var<storage, read> params: Params;

var<workgroup> As: array<vec4<f32>, 2u * BK * ASTR / 4u>; // [buffer][k][m]
var<workgroup> Bs: array<vec4<f32>, 2u * BK * BSTR / 4u>; // [buffer][k][n]

// Per-thread state (registers once the loops are unrolled).
var<private> ra: array<f32, LA>;
var<private> rb: array<f32, LB>;
var<private> acc: array<array<vec4<f32>, RN>, TM>;
// Kernel size, stride and dilation: parameters (ConvParams), not constants, so one pipeline per
// mode and tile serves every convolution geometry.
var<private> KH: u32;
var<private> KW: u32;
var<private> SH: i32;
var<private> SW: i32;
var<private> DH: i32;
var<private> DW: i32;
var<private> T: u32;
// MODE 0, and MODE 1 at stride 1: B's K index is decoded by the table (compiled in only where used).
const TABLE: bool = {{TABLE}};
var<private> tid: u32;
var<private> g: u32;
var<private> m0: u32;
var<private> n0: u32;
var<private> C: u32;
var<private> H: i32;
var<private> W: i32;
var<private> Co: u32;
var<private> OH: i32;
var<private> OW: i32;
var<private> Cg: u32;
var<private> Mg: u32;
var<private> pt: i32;
var<private> pl: i32;
var<private> M: u32;
var<private> N: u32;
var<private> K: u32;
var<private> HW: u32;
var<private> OHW: u32;
// MODES 0/1: this thread's B column (fixed over K).
var<private> colBase: i32;
var<private> colOk: bool;
var<private> hy: i32;
var<private> wx: i32;
var<private> PH: u32; // rows and columns of the plane B gathers from
var<private> PW: u32;
// MODE 2: this thread's k (decoded incrementally) and its B columns.
var<private> kb: u32;
var<private> koh: i32;
var<private> kow: i32;
var<private> colOff: array<i32, LB>;
var<private> bkh: array<i32, LB>;
var<private> bkw: array<i32, LB>;
var<private> bok: array<bool, LB>;

fn setup(tBegin: u32) {
  if (MODE == 0u) {
    let n = n0 + tid % BN;
    colOk = n < N;
    let b = n / OHW;
    let p = n % OHW;
    hy = i32(p) / OW * SH - pt;
    wx = i32(p) % OW * SW - pl;
    PH = u32(H);
    PW = u32(W);
    colBase = i32((b * C + g * Cg) * HW) + hy * W + wx;
  } else if (MODE == 1u) {
    let n = n0 + tid % BN;
    colOk = n < N;
    let b = n / HW;
    let p = n % HW;
    hy = i32(p) / W + pt;
    wx = i32(p) % W + pl;
    PH = u32(OH);
    PW = u32(OW);
    colBase = i32((b * Co + g * Mg) * OHW);
    if (TABLE) { colBase += hy * OW + wx; }
  } else {
    for (var j = 0u; j < LB; j++) {
      let n = n0 + tid / BK + j * (NT / BK);
      bok[j] = n < N;
      let t = n % T;
      bkh[j] = i32(t / KW) * DH - pt;
      bkw[j] = i32(t % KW) * DW - pl;
      colOff[j] = i32((n / T) * HW) + bkh[j] * W + bkw[j];
    }
    let k = tBegin * BK + tid % BK;
    kb = k / OHW;
    let p = i32(k % OHW);
    koh = p / OW;
    kow = p % OW;
  }
}

/** Global loads of K tile `tile` into registers. */
fn loadTile(tile: u32) {
  let k0 = tile * BK;
  if (MODE == 2u) {
    let kOk = k0 + tid % BK < K;
    let p = u32(koh * OW + kow);
    let aBase = (kb * Co + g * Mg) * OHW + p;
    for (var j = 0u; j < LA; j++) {
      let m = m0 + tid / BK + j * (NT / BK);
      var v = 0.0;
      if (kOk && m < M) { v = A[aBase + m * OHW]; }
      ra[j] = v;
    }
    let xBase = i32((kb * C + g * Cg) * HW) + koh * SH * W + kow * SW;
    let hh = koh * SH;
    let ww = kow * SW;
    for (var j = 0u; j < LB; j++) {
      var v = 0.0;
      if (kOk && bok[j] && u32(hh + bkh[j]) < u32(H) && u32(ww + bkw[j]) < u32(W)) { v = Bsrc[u32(xBase + colOff[j])]; }
      rb[j] = v;
    }
    // advance this thread's k by BK: (b, oh, ow) with carries (BK may exceed OW)
    kow += i32(BK);
    while (kow >= OW) {
      kow -= OW;
      koh += 1;
    }
    while (koh >= OH) {
      koh -= OH;
      kb += 1u;
    }
    return;
  }
  for (var j = 0u; j < LA; j++) {
    let e = tid + j * NT;
    let m = m0 + e / BK;
    let k = k0 + e % BK;
    var v = 0.0;
    if (m < M && k < K) { v = A[(g * M + m) * K + k]; }
    ra[j] = v;
  }
  for (var j = 0u; j < LB; j++) {
    let k = k0 + tid / BN + j * (NT / BN);
    var v = 0.0;
    if (TABLE) {
      // padded entries (k >= K) have a row shift that fails the bounds test
      let e = ktab[k];
      if (colOk && u32(hy + e.y) < PH && u32(wx + e.z) < PW) { v = Bsrc[u32(colBase + e.x)]; }
    } else {
      let c = k / T;
      let t = k % T;
      let nh = hy - i32(t / KW) * DH;
      let nw = wx - i32(t % KW) * DW;
      let oh = nh / SH;
      let ow = nw / SW;
      if (colOk && k < K && nh >= 0 && nw >= 0 && nh % SH == 0 && nw % SW == 0 && oh < OH && ow < OW) {
        v = Bsrc[u32(colBase) + c * OHW + u32(oh * OW + ow)];
      }
    }
    rb[j] = v;
  }
}

/** Registers into workgroup buffer `buf`. */
fn storeTile(buf: u32) {
  let aOff = buf * BK * ASTR;
  let bOff = buf * BK * BSTR;
  for (var j = 0u; j < LA; j++) {
    var s: u32;
    if (MODE == 2u) { s = (tid % BK) * ASTR + tid / BK + j * (NT / BK); } else { let e = tid + j * NT; s = (e % BK) * ASTR + e / BK; }
    s += aOff;
    As[s / 4u][s % 4u] = ra[j];
  }
  for (var j = 0u; j < LB; j++) {
    var s: u32;
    if (MODE == 2u) { s = (tid % BK) * BSTR + tid / BK + j * (NT / BK); } else { s = (tid / BN + j * (NT / BN)) * BSTR + tid % BN; }
    s += bOff;
    Bs[s / 4u][s % 4u] = rb[j];
  }
}

/** acc += As[buf] x Bs[buf] for this thread's blocks: rows (q·NTY + ty)·4 + i, columns (q·NTX + tx)·4 + j. */
fn computeTile(buf: u32) {
  let tx = threadX(tid);
  let ty = threadY(tid);
  let aOff = buf * BK * ASTR / 4u + ty;
  let bOff = buf * BK * BSTR / 4u + tx;
  for (var kk = 0u; kk < BK; kk++) {
    var a: array<vec4<f32>, RM>;
    var bv: array<vec4<f32>, RN>;
    for (var q = 0u; q < RM; q++) { a[q] = As[aOff + kk * (ASTR / 4u) + q * NTY]; }
    for (var q = 0u; q < RN; q++) { bv[q] = Bs[bOff + kk * (BSTR / 4u) + q * NTX]; }
    for (var i = 0u; i < TM; i++) {
      let ai = vec4<f32>(a[i / 4u][i % 4u]);
      for (var q = 0u; q < RN; q++) { acc[i][q] = fma(ai, bv[q], acc[i][q]); }
    }
  }
}

@compute @workgroup_size(NT)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  tid = lid;
  C = params.C;
  H = i32(params.H);
  W = i32(params.W);
  Co = params.Co;
  OH = i32(params.OH);
  OW = i32(params.OW);
  let G = params.G;
  Cg = params.Cg;
  Mg = params.Mg;
  pt = i32(params.pt);
  pl = i32(params.pl);
  M = params.M;
  N = params.N;
  K = params.K;
  HW = u32(H * W);
  OHW = u32(OH * OW);
  KH = params.KH;
  KW = params.KW;
  SH = i32(params.SH);
  SW = i32(params.SW);
  DH = i32(params.DH);
  DW = i32(params.DW);
  T = KH * KW;
  g = wid.z % G;
  let split = wid.z / G;
  m0 = wid.y * BM;
  n0 = wid.x * BN;

  let tilesPerSplit = params.kPerSplit;
  let tBegin = split * tilesPerSplit;
  let tEnd = min(tBegin + tilesPerSplit, (params.K + BK - 1u) / BK); // params, not K: barriers need uniformity
  setup(tBegin);
  if (tBegin < tEnd) { loadTile(tBegin); }
  for (var t = tBegin; t < tEnd; t++) {
    let buf = (t - tBegin) & 1u;
    storeTile(buf);
    workgroupBarrier();
    if (t + 1u < tEnd) { loadTile(t + 1u); }
    computeTile(buf);
  }

  // ---- epilogue
  let hasBias = params.hasBias != 0u && split == 0u;
  let sliceBase = split * params.outSize;
  let tx = threadX(tid);
  let ty = threadY(tid);
  for (var jn = 0u; jn < TN; jn++) {
    let n = n0 + ((jn / 4u) * NTX + tx) * 4u + jn % 4u;
    if (n < N) {
      var base: u32;
      var stride: u32;
      var chan0: u32;
      if (MODE == 0u) {
        base = (n / OHW) * Co * OHW + n % OHW;
        stride = OHW;
        chan0 = g * Mg;
      } else if (MODE == 1u) {
        base = (n / HW) * C * HW + n % HW;
        stride = HW;
        chan0 = g * Cg;
      } else {
        base = n;
        stride = N;
        chan0 = g * Mg;
      }
      for (var i = 0u; i < TM; i++) {
        let m = m0 + ((i / 4u) * NTY + ty) * 4u + i % 4u;
        if (m < M) {
          var v = acc[i][jn / 4u][jn % 4u];
          if (hasBias) { v += bias[chan0 + m]; }
          dst[sliceBase + base + (chan0 + m) * stride] = v;
        }
      }
    }
  }
}
