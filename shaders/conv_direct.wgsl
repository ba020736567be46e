// Direct 2-D convolution for shapes where a GEMM tile would be mostly empty (depthwise, few channels
// per group). Same geometry and modes as conv_gemm.wgsl:
//   MODE 0: one thread per y[b, co, oh, ow];   MODE 1: one thread per dx[b, c, ih, iw];
//   MODE 2: one 64-thread workgroup per dw[co, ci, kh, kw], reducing over b, oh, ow.
const MODE: u32 = {{MODE}}u;
const WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> A: array<f32>;    // MODE 0: x, 1: dy, 2: x
@group(0) @binding(1) var<storage, read> Bsrc: array<f32>; // MODE 0: w, 1: w, 2: dy
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
// The kernel geometry is a parameter: one pipeline per mode serves all. `count`: output elements.
// #params ConvParams (src/ops/kernels/conv-params.ts)
@group(0) @binding(4) var<storage, read> params: Params;

var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let Bt = params.Bt;
// #include conv_params
  let count = params.count;
  let hasBias = params.hasBias != 0u;
  let HW = u32(H * W);
  let OHW = u32(OH * OW);
// #include conv_window
  let T = KH * KW;

  if (MODE == 2u) {
    let o = wid.x + wid.y * nwg.x;
    let valid = o < count;
    let co = o / (Cg * T);
    let ci = (o / T) % Cg;
    let t = o % T;
    let g = co / Mg;
    let kh = i32(t / KW) * DH - pt;
    let kw = i32(t % KW) * DW - pl;
    var acc = 0.0;
    if (valid) {
      let red = Bt * OHW;
      for (var k = lid; k < red; k += WG) {
        let b = k / OHW;
        let p = k % OHW;
        let ih = i32(p) / OW * SH + kh;
        let iw = i32(p) % OW * SW + kw;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
          acc += Bsrc[(b * Co + co) * OHW + p] * A[(b * C + g * Cg + ci) * HW + u32(ih * W + iw)];
        }
      }
    }
    part[lid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
      if (lid < s) { part[lid] += part[lid + s]; }
      workgroupBarrier();
    }
    if (valid && lid == 0u) { dst[o] = part[0]; }
    return;
  }

  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= count) { return; }
  var acc = 0.0;
  if (MODE == 0u) {
    let p = i % OHW;
    let co = (i / OHW) % Co;
    let b = i / (OHW * Co);
    let g = co / Mg;
    let h0 = i32(p) / OW * SH - pt;
    let w0 = i32(p) % OW * SW - pl;
    let xBase = (b * C + g * Cg) * HW;
    let wBase = co * Cg * T;
    for (var ci = 0u; ci < Cg; ci++) {
      for (var t = 0u; t < T; t++) {
        let ih = h0 + i32(t / KW) * DH;
        let iw = w0 + i32(t % KW) * DW;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
          acc += A[xBase + ci * HW + u32(ih * W + iw)] * Bsrc[wBase + ci * T + t];
        }
      }
    }
    if (hasBias) { acc += bias[co]; }
  } else {
    let p = i % HW;
    let c = (i / HW) % C;
    let b = i / (HW * C);
    let g = c / Cg;
    let ci = c % Cg;
    let hp = i32(p) / W + pt;
    let wp = i32(p) % W + pl;
    for (var col = 0u; col < Mg; col++) {
      let co = g * Mg + col;
      let dyBase = (b * Co + co) * OHW;
      let wBase = (co * Cg + ci) * T;
      for (var t = 0u; t < T; t++) {
        let nh = hp - i32(t / KW) * DH;
        let nw = wp - i32(t % KW) * DW;
        let oh = nh / SH;
        let ow = nw / SW;
        if (nh >= 0 && nw >= 0 && nh % SH == 0 && nw % SW == 0 && oh < OH && ow < OW) {
          acc += A[dyBase + u32(oh * OW + ow)] * Bsrc[wBase + t];
        }
      }
    }
    if (hasBias) { acc += bias[c]; }
  }
  dst[i] = acc;
}
