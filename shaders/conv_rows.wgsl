// Row convolution for CPU adapters: stride 1 along the width, dilation 1 along the width, output as
// wide as the source, width a multiple of 4 (the forward of "same"-padded convolutions and their input
// gradient). Like conv_regs.wgsl it is a register-blocked implicit GEMM without workgroup memory (one
// workgroup = one subgroup; TM rows of the output channels; each lane owns 4 consecutive pixels of one
// output row), but it walks K as (source channel, kernel row) and gets every kernel column's 4 values
// from one aligned vec4 load of the source row plus its neighbours' vec4s through subgroup shuffles —
// instead of 4 bounds-checked scalar gathers per tap (every per-lane load in a loop is a gather on
// llvmpipe). The two lanes at the subgroup's ends load their missing neighbour themselves.
// A is the weight repacked by conv_pack.wgsl: one vec4 of kernel-column taps per (channel, kh, row).
// MODE 0 forward: source x [Bt, C, H, W], rows y = r·SH − pt + kh·DH, taps at column ow + kw − pl.
// MODE 1 input gradient (stride 1): source dy [Bt, Co, OH, OW], rows y = r + pt − kh·DH, taps at
// column iw + pl − kw. The unrolled blocks (setup, per-kh step, store) come from src/ops/conv-regs.ts.
enable subgroups;
const MODE: u32 = {{MODE}}u;
const SH: i32 = {{SH}};
const DH: i32 = {{DH}};
const KH: u32 = {{KH}}u;

@group(0) @binding(0) var<storage, read> A: array<vec4f>;
@group(0) @binding(1) var<storage, read> S: array<vec4f>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<vec4f>;
// Bt, C, H, W, Co, OH, OW, G, Cg, Mg, pt, pl, M, N, K, hasBias
@group(0) @binding(4) var<storage, read> params: array<u32>;

@compute @workgroup_size({{SG}})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) sg: u32) {
// #include conv_params
  let hasBias = params[15] != 0u;
  let g = wid.z;
  let m0 = wid.y * {{TM}}u;
  // Output pixels: this lane's 4 columns (clamped to the last 4; never stored when past N).
  let n0 = (wid.x * {{SG}}u + sg) * 4u;
  let nc = min(n0, N - 4u);
// #include conv_table_modes
  let RW = u32(PW); // = colW: the output is as wide as its source
  let plane = u32(PH) * RW;
  let b = nc / cols;
  let p = nc % cols;
  let r = i32(p / RW);
  let ow0 = p % RW;
  let hasLeft = ow0 > 0u;
  let hasRight = ow0 + 4u < RW;
  // The end lanes' missing neighbours: the 4 pixels left of lane 0, right of the last lane.
  let edge = select(min(ow0 + 4u, RW - 4u), max(ow0, 4u) - 4u, sg == 0u);
  let isEdge = sg == 0u || sg == {{SG}}u - 1u;
  let src0 = b * srcBatch + srcGroup;
  let aRow0 = g * Cs * KH * M;
{{SETUP}}
  for (var c = 0u; c < Cs; c++) {
    let cb = src0 + c * plane;
{{STEP}}
  }
{{STORE}}
}
