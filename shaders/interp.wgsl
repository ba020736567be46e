// Separable 2-D resampling of NCHW planes from per-axis tap tables (nearest: one tap of weight 1;
// bilinear: two taps), computed on the CPU with PyTorch's float32 index arithmetic.
// MODE 0 forward: one thread per output; out[oh, ow] = Σ wy·wx · x[iy, ix] over the 2 x 2 taps.
// MODE 1 backward: one thread per input (h, w); sums the outputs whose taps hit it (rows rowLo..rowHi,
//   columns colLo..colHi), each with its tap weight. Deterministic; MODE 0 and MODE 1 are adjoints.
// MODE 2 / 3: forward / backward of nearest ×2 on both axes (the table is unused): out[oh, ow] =
//   x[oh >> 1, ow >> 1]; dx[h, w] = the sum of its 2 x 2 block of outputs.
// table (u32): rows[OH] of (i0, i1, w0 bits, w1 bits), cols[OW] likewise, then rowRange[H] of (lo, hi),
// colRange[W] of (lo, hi).
const MODE: u32 = {{MODE}}u;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> tab: array<u32>;
// #params InterpParams (src/ops/kernels/resample.ts)
@group(0) @binding(3) var<storage, read> params: Params;

fn tapWeight(entry: u32, idx: u32) -> f32 {
  var w = 0.0;
  if (tab[entry] == idx) { w += bitcast<f32>(tab[entry + 2u]); }
  if (tab[entry + 1u] == idx) { w += bitcast<f32>(tab[entry + 3u]); }
  return w;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  let H = params.H;
  let W = params.W;
  let OH = params.OH;
  let OW = params.OW;
  let colTab = 4u * OH;
  if (MODE == 2u) {
    let ow = i % OW;
    let oh = (i / OW) % OH;
    dst[i] = src[(i / (OW * OH)) * H * W + (oh >> 1u) * W + (ow >> 1u)];
    return;
  }
  if (MODE == 3u) {
    let w = i % W;
    let h = (i / W) % H;
    let o = (i / (W * H)) * OH * OW + 2u * h * OW + 2u * w;
    dst[i] = (src[o] + src[o + 1u]) + (src[o + OW] + src[o + OW + 1u]);
    return;
  }
  if (MODE == 0u) {
    let ow = i % OW;
    let oh = (i / OW) % OH;
    let base = (i / (OW * OH)) * H * W;
    let r = 4u * oh;
    let c = colTab + 4u * ow;
    let wy0 = bitcast<f32>(tab[r + 2u]);
    let wy1 = bitcast<f32>(tab[r + 3u]);
    let wx0 = bitcast<f32>(tab[c + 2u]);
    let wx1 = bitcast<f32>(tab[c + 3u]);
    let r0 = base + tab[r] * W;
    let r1 = base + tab[r + 1u] * W;
    let c0 = tab[c];
    let c1 = tab[c + 1u];
    let top = wx0 * src[r0 + c0] + wx1 * src[r0 + c1];
    let bottom = wx0 * src[r1 + c0] + wx1 * src[r1 + c1];
    dst[i] = wy0 * top + wy1 * bottom;
    return;
  }
  let w = i % W;
  let h = (i / W) % H;
  let obase = (i / (W * H)) * OH * OW;
  let rr = colTab + 4u * OW + 2u * h;
  let cr = colTab + 4u * OW + 2u * H + 2u * w;
  var acc = 0.0;
  for (var oh = tab[rr]; oh < tab[rr + 1u]; oh++) {
    let wy = tapWeight(4u * oh, h);
    if (wy == 0.0) { continue; }
    var row = 0.0;
    for (var ow = tab[cr]; ow < tab[cr + 1u]; ow++) {
      row += tapWeight(colTab + 4u * ow, w) * src[obase + oh * OW + ow];
    }
    acc += wy * row;
  }
  dst[i] = acc;
}
