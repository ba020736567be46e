// Batched C[b] = op(A[b]) · op(B[b]) with workgroup-memory tiling ("tiled", for real GPUs).
// 16 × 16 threads; the workgroup owns a BM × BN tile of C (BM = 16·TM, BN = 16·TN), each thread a TM × TN
// block in registers. Per BK-slice of K, the threads stage op(A)[BM, BK] and op(B)[BK, BN] in workgroup
// memory as vec4 along m and n (global loads are scalar, with the thread → element map chosen so that
// consecutive threads read consecutive addresses for either layout), then every thread reads TM / 4 + TN / 4
// vec4 per k. Out-of-range elements stage as 0, so no bounds checks in the inner loop.
// The transposes are runtime flags (params.trans: bit 0 A, bit 1 B): they only steer the staging loads,
// and one pipeline instead of four keeps compile times down on software adapters.
const TM: u32 = {{TM}}u;
const TN: u32 = {{TN}}u;
const BK: u32 = 16u;
const BM: u32 = 16u * TM;
const BN: u32 = 16u * TN;
const AQ: u32 = BM / 4u; // vec4 per k-row of the A tile
const BQ: u32 = BN / 4u;

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
// #params MatmulParams (src/ops/kernels/matmul.ts)
@group(0) @binding(3) var<storage, read> params: Params;

var<workgroup> As: array<vec4f, BK * AQ>; // [k][m / 4]
var<workgroup> Bs: array<vec4f, BK * BQ>; // [k][n / 4]

var<private> TRANS_A: bool;
var<private> TRANS_B: bool;

// #include strided_offsets

fn loadA(aOff: u32, m: u32, k: u32, M: u32, K: u32) -> f32 {
  if (m >= M || k >= K) { return 0.0; }
  if (TRANS_A) { return A[aOff + k * M + m]; }
  return A[aOff + m * K + k];
}

fn loadB(bOff: u32, k: u32, n: u32, N: u32, K: u32) -> f32 {
  if (n >= N || k >= K) { return 0.0; }
  if (TRANS_B) { return B[bOff + n * K + k]; }
  return B[bOff + k * N + n];
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  TRANS_A = (params.trans & 1u) != 0u;
  TRANS_B = (params.trans & 2u) != 0u;
  let batch = wid.z + params.batchOffset;
  let off = strided_offsets(batch, params.batchRank);
  let aOff = off.x;
  let bOff = off.y;
  let cOff = batch * M * N;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  var acc: array<array<vec4f, TN / 4u>, TM>;
  for (var k0 = 0u; k0 < K; k0 += BK) {
    for (var s = tid; s < BK * AQ; s += 256u) {
      // Consecutive threads walk the contiguous axis of A: k (row-major) or m (transposed).
      var kk = s % BK;
      var mq = s / BK;
      if (TRANS_A) {
        kk = s / AQ;
        mq = s % AQ;
      }
      let m = m0 + mq * 4u;
      let k = k0 + kk;
      As[kk * AQ + mq] = vec4f(loadA(aOff, m, k, M, K), loadA(aOff, m + 1u, k, M, K), loadA(aOff, m + 2u, k, M, K), loadA(aOff, m + 3u, k, M, K));
    }
    for (var s = tid; s < BK * BQ; s += 256u) {
      var kk = s / BQ;
      var nq = s % BQ;
      if (TRANS_B) {
        kk = s % BK;
        nq = s / BK;
      }
      let n = n0 + nq * 4u;
      let k = k0 + kk;
      Bs[kk * BQ + nq] = vec4f(loadB(bOff, k, n, N, K), loadB(bOff, k, n + 1u, N, K), loadB(bOff, k, n + 2u, N, K), loadB(bOff, k, n + 3u, N, K));
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var a: array<vec4f, TM / 4u>;
      for (var u = 0u; u < TM / 4u; u++) { a[u] = As[kk * AQ + lid.y * (TM / 4u) + u]; }
      var b: array<vec4f, TN / 4u>;
      for (var v = 0u; v < TN / 4u; v++) { b[v] = Bs[kk * BQ + lid.x * (TN / 4u) + v]; }
      for (var i = 0u; i < TM; i++) {
        let ai = a[i / 4u][i % 4u];
        for (var v = 0u; v < TN / 4u; v++) { acc[i][v] = fma(vec4f(ai), b[v], acc[i][v]); }
      }
    }
    workgroupBarrier();
  }
  let sM = params.cRowStride;
  let sN = params.cColStride;
  for (var i = 0u; i < TM; i++) {
    let m = m0 + lid.y * TM + i;
    if (m >= M) { break; }
    for (var j = 0u; j < TN; j++) {
      let n = n0 + lid.x * TN + j;
      if (n < N) { C[cOff + m * sM + n * sN] = acc[i][j / 4u][j % 4u]; }
    }
  }
}
