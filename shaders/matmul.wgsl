// Batched C[b] = op(A[b]) · op(B[b]), register-blocked without workgroup memory ("regs", for CPU adapters).
// One workgroup = one subgroup of SG lanes (SG = 0: no subgroups, lanes of WG). The workgroup owns TM rows
// of C; each lane owns those TM rows × 4 consecutive columns (TM × vec4 accumulators). Per step of 4 k:
//   - the TM × 4 slice of op(A) is TM vec4 "chunks" (rows along k, or 4 rows at one k when TRANS_A); with
//     subgroups each lane loads TM / SG of them and subgroupBroadcast shares them, so every element of A
//     is loaded once per workgroup. (On llvmpipe every storage load inside a loop is a masked per-lane
//     scalar gather, ~10 instructions per lane and element: sharing A that way triples throughput.)
//   - each lane loads its own 4 × 4 block of op(B) (vec4 rows, or vec4 columns when TRANS_B).
// Loads use vec4 bindings where the contiguous axis is a multiple of 4 (A_T / B_T = vec4f), else scalars.
// Out-of-range rows and columns are clamped (computed, never stored); k past K (K % 4 != 0) reads a
// clamped element that is multiplied by a zeroed A value. The unrolled blocks (setup, k step, store)
// are generated in src/ops/matmul.ts from the tile shape, transposes and alignment.
{{ENABLE}}
@group(0) @binding(0) var<storage, read> A: array<{{A_T}}>;
@group(0) @binding(1) var<storage, read> B: array<{{B_T}}>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
// M, N, K, batchRank, C row stride, C column stride, batch offset, transpose flags (unused: compiled in),
// batchShape[r], aBatchStride[r], bBatchStride[r]
@group(0) @binding(3) var<storage, read> params: array<u32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32{{SG_ARG}}) {
  let M = params[0];
  let N = params[1];
  let K = params[2];
  let r = params[3];
  let batch = wid.z + params[6];
  // Batch offsets (elements) from the batch index, broadcasting through zero strides.
  var rest = batch;
  var aOff = 0u;
  var bOff = 0u;
  for (var d = i32(r) - 1; d >= 0; d--) {
    let size = params[8u + u32(d)];
    let c = rest % size;
    rest = rest / size;
    aOff += c * params[8u + r + u32(d)];
    bOff += c * params[8u + 2u * r + u32(d)];
  }
  let cOff = batch * M * N;
  let m0 = wid.y * {{TM}}u;
  let n0 = (wid.x * {{WG}}u + lane) * 4u;
{{SETUP}}
  for (var k = 0u; k < K; k += 4u) {
{{STEP}}
  }
{{STORE}}
}
