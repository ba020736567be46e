// Implicit-GEMM convolution for CPU adapters ("regs", like matmul.wgsl): the table modes of
// conv_gemm.wgsl (MODE 0 forward; MODE 1 input gradient at stride 1) without workgroup memory or
// barriers. C[M, N] = A[M, K] · B[K, N] for group g = workgroup z, where A rows are contiguous
// (w, or w permuted to [G, Cg, Mg·T] for MODE 1) and B is gathered from the image X through the
// K table (offset, row shift, column shift) relative to each column's base, zero outside the image.
// One workgroup = one subgroup of SG lanes (SG = 0: lanes of WG, each loading A itself); it owns TM
// rows; each lane owns 4 consecutive columns (TM × vec4 accumulators). Table entries past K fail
// the bounds test, so B is zero there and A (clamped to its row) may be anything finite.
// The unrolled blocks (setup, k step, store) are generated in src/ops/conv-regs.ts.
{{ENABLE}}
const MODE: u32 = {{MODE}}u;

@group(0) @binding(0) var<storage, read> A: array<{{A_T}}>;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> ktab: array<vec4<i32>>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
// Bt, C, H, W, Co, OH, OW, G, Cg, Mg, pt, pl, M, N, K, hasBias, SH, SW (the stride is a parameter: one
// pipeline per mode and block serves every stride)
@group(0) @binding(5) var<storage, read> params: array<u32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32{{SG_ARG}}) {
// #include conv_params
  let hasBias = params[15] != 0u;
  let SH = i32(params[16]);
  let SW = i32(params[17]);
  let g = wid.z;
  let m0 = wid.y * {{TM}}u;
  let n0 = (wid.x * {{WG}}u + lane) * 4u;
// #include conv_table_modes
  let aRow0 = g * M;
{{SETUP}}
  for (var k = 0u; k < K; k += 4u) {
{{STEP}}
  }
{{STORE}}
}
