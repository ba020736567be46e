// Weight gradient by rows for CPU adapters (the geometry of conv_rows.wgsl: unit stride and dilation
// along the width, output as wide as the input, width a multiple of 4, KW ≤ 4):
// dw[g·Mg + m, c, kh, kw] = Σ_{b, oh, ow} dy[b, g·Mg + m, oh, ow] · x[b, g·Cg + c, oh·SH − pt + kh·DH, ow + kw − pl].
// Each lane owns one (c, kh) and its KW kernel columns (vec4 accumulators over kw), the workgroup TM
// rows m; every step takes 4 pixels of one row: one aligned vec4 of x per lane plus the vec4s beside
// it where the kernel reaches past it, and one vec4 of dy per row m shared by subgroup broadcast. The
// pixel (image sb, row soy, column sox) is carried from step to step (PIXEL_WALK in
// src/ops/conv-regs.ts). Split-K: workgroup z = split · G + g sums pixels [split · kPerSplit, ...) into
// dst slice `split`.
enable subgroups;
const SH: i32 = {{SH}};
const DH: i32 = {{DH}};
const KH: u32 = {{KH}}u;
const KW: u32 = {{KW}}u;

@group(0) @binding(0) var<storage, read> A: array<vec4f>;  // dy [Bt, Co, OH, OW]
@group(0) @binding(1) var<storage, read> X: array<vec4f>;  // x [Bt, C, H, W]
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
// Bt, C, H, W, Co, OH, OW, G, Cg, Mg, pt, pl, M, N, K, kPerSplit, outSize
@group(0) @binding(3) var<storage, read> params: array<u32>;

@compute @workgroup_size({{SG}})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) sg: u32) {
// #include conv_params
  let OWu = u32(OW);
  let OHW = u32(OH) * OWu;
  let HW = u32(H * W);
  let g = wid.z % G;
  let split = wid.z / G;
  let kBegin = split * params[15];
  let kEnd = min(K, kBegin + params[15]);
  let m0 = wid.y * {{TM}}u;
  // This lane's (c, kh), clamped (never stored past Cg · KH).
  let lc = wid.x * {{SG}}u + sg;
  let cl = min(lc, Cg * KH - 1u);
  let c = cl / KH;
  let kh = i32(cl % KH);
  let xChan = (g * Cg + c) * HW;
{{SETUP}}
  for (var k = kBegin; k < kEnd; k += 4u) {
    let y = i32(soy) * SH - pt + kh * DH;
    let yok = u32(y) < u32(H);
    let row = sb * C * HW + xChan + u32(clamp(y, 0, H - 1)) * u32(W);
    let at = (row + sox) / 4u;
    let v = select(vec4f(0.0), X[at], yok);
{{STEP}}
  }
{{STORE}}
}

