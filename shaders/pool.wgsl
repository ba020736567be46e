// 2-D pooling over NCHW planes, one thread per output element (forward) or per input element (backward,
// as a gather over the windows that contain it: deterministic, no atomics).
// MODE 0: avg forward           MODE 1: avg backward (dx from dy)
// MODE 2: max forward + argmax  MODE 3: max backward (dx[i] = Σ dy[o] where argmax[o] == i)
// MODE 4: gather at argmax (dy'[o] = dx'[argmax[o]], the adjoint of MODE 3)
// MODE 5: adaptive avg forward  MODE 6: adaptive avg backward
var<private> NEG_INF_BITS: u32 = 0xff800000u;

const MODE: u32 = {{MODE}}u;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read_write> arg: array<i32>; // argmax within the plane (MODES 2-4), -1 when none
// #params PoolParams (src/ops/kernels/pool.ts)
@group(0) @binding(3) var<storage, read> params: Params;

/** Divisor of avg-pool window (oh, ow), as PyTorch: the window clipped to the padded input. */
fn divisor(oh: i32, ow: i32, H: i32, W: i32) -> f32 {
  if (params.divisor != 0.0) { return params.divisor; }
  let h0 = oh * params.sh - params.ph;
  let w0 = ow * params.sw - params.pw;
  let h1 = min(h0 + params.kh, H + params.ph);
  let w1 = min(w0 + params.kw, W + params.pw);
  if (params.countIncludePad != 0u) { return f32((h1 - h0) * (w1 - w0)); }
  return f32((min(h1, H) - max(h0, 0)) * (min(w1, W) - max(w0, 0)));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.count) { return; }
  let H = params.H;
  let W = params.W;
  let OH = params.OH;
  let OW = params.OW;
  let kh = params.kh;
  let kw = params.kw;
  let sh = params.sh;
  let sw = params.sw;
  let ph = params.ph;
  let pw = params.pw;
  let dh = params.dh;
  let dw = params.dw;
  if (MODE == 0u || MODE == 2u || MODE == 4u || MODE == 5u) {
    // one thread per output element
    let ow = i32(i % u32(OW));
    let oh = i32((i / u32(OW)) % u32(OH));
    let plane = i / u32(OH * OW);
    let base = plane * u32(H * W);
    if (MODE == 4u) {
      let a = arg[i];
      dst[i] = select(0.0, src[base + u32(max(a, 0))], a >= 0);
      return;
    }
    if (MODE == 5u) {
      let h0 = oh * H / OH;
      let h1 = ((oh + 1) * H + OH - 1) / OH;
      let w0 = ow * W / OW;
      let w1 = ((ow + 1) * W + OW - 1) / OW;
      var acc = 0.0;
      for (var h = h0; h < h1; h++) {
        for (var w = w0; w < w1; w++) { acc += src[base + u32(h * W + w)]; }
      }
      dst[i] = acc / f32((h1 - h0) * (w1 - w0));
      return;
    }
    let h0 = oh * sh - ph;
    let w0 = ow * sw - pw;
    if (MODE == 0u) {
      let hs = max(h0, 0);
      let ws = max(w0, 0);
      let he = min(h0 + kh, H);
      let we = min(w0 + kw, W);
      var acc = 0.0;
      for (var h = hs; h < he; h++) {
        for (var w = ws; w < we; w++) { acc += src[base + u32(h * W + w)]; }
      }
      dst[i] = select(acc / divisor(oh, ow, H, W), 0.0, hs >= he || ws >= we);
      return;
    }
    var best = bitcast<f32>(NEG_INF_BITS);
    var at = -1;
    for (var a = 0; a < kh; a++) {
      let h = h0 + a * dh;
      if (h < 0 || h >= H) { continue; }
      for (var b = 0; b < kw; b++) {
        let w = w0 + b * dw;
        if (w < 0 || w >= W) { continue; }
        let v = src[base + u32(h * W + w)];
        // First maximum wins; NaN propagates (as PyTorch).
        if (at < 0 || v > best || (v != v && best == best)) {
          best = v;
          at = h * W + w;
        }
      }
    }
    dst[i] = best;
    arg[i] = at;
    return;
  }
  // one thread per input element
  let w = i32(i % u32(W));
  let h = i32((i / u32(W)) % u32(H));
  let plane = i / u32(H * W);
  let obase = plane * u32(OH * OW);
  var acc = 0.0;
  if (MODE == 6u) {
    let ohLo = h * OH / H;
    let ohHi = ((h + 1) * OH + H - 1) / H;
    let owLo = w * OW / W;
    let owHi = ((w + 1) * OW + W - 1) / W;
    for (var oh = ohLo; oh < min(ohHi, OH); oh++) {
      let h0 = oh * H / OH;
      let h1 = ((oh + 1) * H + OH - 1) / OH;
      if (h < h0 || h >= h1) { continue; }
      for (var ow = owLo; ow < min(owHi, OW); ow++) {
        let w0 = ow * W / OW;
        let w1 = ((ow + 1) * W + OW - 1) / OW;
        if (w < w0 || w >= w1) { continue; }
        acc += src[obase + u32(oh * OW + ow)] / f32((h1 - h0) * (w1 - w0));
      }
    }
    dst[i] = acc;
    return;
  }
  if (MODE == 1u) {
    // windows [oh·sh − ph, oh·sh − ph + kh) that contain h
    let ohLo = max((h + ph - kh + sh) / sh, 0); // ceil((h + ph − kh + 1) / sh), or 0
    let ohHi = min((h + ph) / sh, OH - 1);
    let owLo = max((w + pw - kw + sw) / sw, 0);
    let owHi = min((w + pw) / sw, OW - 1);
    for (var oh = ohLo; oh <= ohHi; oh++) {
      for (var ow = owLo; ow <= owHi; ow++) {
        acc += src[obase + u32(oh * OW + ow)] / divisor(oh, ow, H, W);
      }
    }
    dst[i] = acc;
    return;
  }
  // MODE 3: windows whose tap (a, b) lands on (h, w) and whose argmax is this element
  let me = h * W + w;
  for (var a = 0; a < kh; a++) {
    let nh = h + ph - a * dh;
    if (nh < 0 || nh % sh != 0 || nh / sh >= OH) { continue; }
    let oh = nh / sh;
    for (var b = 0; b < kw; b++) {
      let nw = w + pw - b * dw;
      if (nw < 0 || nw % sw != 0 || nw / sw >= OW) { continue; }
      let o = obase + u32(oh * OW + nw / sw);
      if (arg[o] == me) { acc += src[o]; }
    }
  }
  dst[i] = acc;
}
