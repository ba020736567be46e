// Repacks a convolution weight w [Co, Cg, KH, KW] (KW ≤ 4) for the row kernel (convRowsShader in
// src/ops/kernels/conv-regs.ts): out[((g·Cs + c)·KH + kh)·M + m] = the KW taps of one (row m, source
// channel c, kernel row kh) as a vec4, zero past KW. Forward (MODE 0): rows are output channels, sources
// input channels: w[g·Mg + m, c, kh, :]. Input gradient (MODE 1): rows are input channels, sources
// output channels: w[g·Mg + c, m, kh, :] (the taps stay in order; the kernel applies them mirrored).
@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4f>;
// #params ConvPackParams (src/ops/kernels/conv-params.ts)
@group(0) @binding(2) var<storage, read> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let G = params.G;
  let Cs = params.Cs;
  let KH = params.KH;
  let KW = params.KW;
  let M = params.M;
  let Mg = params.Mg;
  let Cg = params.Cg;
  if (i >= G * Cs * KH * M) { return; }
  let m = i % M;
  let kh = (i / M) % KH;
  let c = (i / (M * KH)) % Cs;
  let g = i / (M * KH * Cs);
  var base = ((g * Mg + m) * Cg + c) * KH * KW;
  if (params.mode == 1u) { base = ((g * Mg + c) * Cg + m) * KH * KW; }
  base += kh * KW;
  var v = vec4f(0.0);
  for (var t = 0u; t < KW; t++) { v[t] = w[base + t]; }
  out[i] = v;
}
