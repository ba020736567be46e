// Batched C[b] = op(A[b]) · op(B[b]) with op = transpose when TRANS_A / TRANS_B. Each thread computes a
// 4×4 block of C in registers (no workgroup memory: CPU adapters run it fastest). Batch dimensions
// broadcast through per-batch offsets given as strides (0 on broadcast axes).
const TRANS_A: bool = {{TRANS_A}};
const TRANS_B: bool = {{TRANS_B}};

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
// M, N, K, batchRank, batchShape[r], aBatchStride[r], bBatchStride[r]
@group(0) @binding(3) var<storage, read> params: array<u32>;

fn a_at(base: u32, m: u32, k: u32, M: u32, K: u32) -> f32 {
  if (TRANS_A) { return A[base + k * M + m]; }
  return A[base + m * K + k];
}

fn b_at(base: u32, k: u32, n: u32, N: u32, K: u32) -> f32 {
  if (TRANS_B) { return B[base + n * K + k]; }
  return B[base + k * N + n];
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let M = params[0];
  let N = params[1];
  let K = params[2];
  let r = params[3];
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  if (m0 >= M || n0 >= N) { return; }
  // Batch offsets from the batch index (gid.z), broadcasting through zero strides.
  var rest = gid.z;
  var aOff = 0u;
  var bOff = 0u;
  for (var d = i32(r) - 1; d >= 0; d--) {
    let size = params[4u + u32(d)];
    let c = rest % size;
    rest = rest / size;
    aOff += c * params[4u + r + u32(d)];
    bOff += c * params[4u + 2u * r + u32(d)];
  }
  let cOff = gid.z * M * N;
  var acc: array<vec4f, 4>;
  let mMax = min(4u, M - m0);
  let nMax = min(4u, N - n0);
  if (mMax == 4u && nMax == 4u) {
    for (var k = 0u; k < K; k++) {
      let b = vec4f(b_at(bOff, k, n0, N, K), b_at(bOff, k, n0 + 1u, N, K), b_at(bOff, k, n0 + 2u, N, K), b_at(bOff, k, n0 + 3u, N, K));
      acc[0] += a_at(aOff, m0, k, M, K) * b;
      acc[1] += a_at(aOff, m0 + 1u, k, M, K) * b;
      acc[2] += a_at(aOff, m0 + 2u, k, M, K) * b;
      acc[3] += a_at(aOff, m0 + 3u, k, M, K) * b;
    }
  } else {
    for (var k = 0u; k < K; k++) {
      var b = vec4f(0.0);
      for (var j = 0u; j < nMax; j++) { b[j] = b_at(bOff, k, n0 + j, N, K); }
      for (var i = 0u; i < mMax; i++) { acc[i] += a_at(aOff, m0 + i, k, M, K) * b; }
    }
  }
  for (var i = 0u; i < mMax; i++) {
    for (var j = 0u; j < nMax; j++) { C[cOff + (m0 + i) * N + n0 + j] = acc[i][j]; }
  }
}
