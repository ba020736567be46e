// Weight gradient of a convolution for CPU adapters ("regs"; conv_gemm.wgsl's MODE 2 without
// workgroup memory): dw[g·Mg + m, n] = Σ_k dy[b, g·Mg + m, oh, ow] · x[b, g·Cg + ci, oh·SH − pt + kh·DH,
// ow·SW − pl + kw·DW] with n = (ci, kh, kw) and k = (b, oh, ow). Each lane owns 4 consecutive n (its
// window offsets are fixed), the workgroup TM rows m; every step decodes 4 k's (uniform over lanes).
// Split-K: workgroup z = split · G + g sums k in [split · kPerSplit, ...) into dst slice `split`.
{{ENABLE}}

@group(0) @binding(0) var<storage, read> A: array<{{A_T}}>;  // dy [Bt, Co, OH, OW]
@group(0) @binding(1) var<storage, read> X: array<f32>;      // x [Bt, C, H, W]
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
// Bt, C, H, W, Co, OH, OW, G, Cg, Mg, pt, pl, M, N, K, kPerSplit, outSize, KH, KW, SH, SW, DH, DW (the
// kernel geometry is a parameter: one pipeline per block serves every convolution)
@group(0) @binding(3) var<storage, read> params: array<u32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32{{SG_ARG}}) {
// #include conv_params
  let KH = params[17];
  let KW = params[18];
  let SH = i32(params[19]);
  let SW = i32(params[20]);
  let DH = i32(params[21]);
  let DW = i32(params[22]);
  let OWu = u32(OW);
  let OHW = u32(OH) * OWu;
  let g = wid.z % G;
  let split = wid.z / G;
  let kBegin = split * params[15];
  let kEnd = min(K, kBegin + params[15]);
  let m0 = wid.y * {{TM}}u;
  let n0 = (wid.x * {{WG}}u + lane) * 4u;
  let HW = u32(H * W);
  let xGroup = g * Cg * HW;
{{SETUP}}
  for (var k = kBegin; k < kEnd; k += 4u) {
{{STEP}}
  }
{{STORE}}
}
