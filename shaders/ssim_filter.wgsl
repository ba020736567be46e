// The separable Gaussian filter of SSIM as a standalone op on planes [P, H, W] (used by the composed,
// differentiable SSIM that higher-order gradients need); window taps g[t] in params.window.
// MODE 0: valid filter, OUT [P, h, w] = Σ_t Σ_u g[t]·g[u]·IN[p, y + t, x + u].
// MODE 1: its adjoint, OUT [P, H, W] = Σ_t Σ_u g[t]·g[u]·IN[p, y − t, x − u] over valid positions.
const MODE: u32 = {{MODE}}u;

@group(0) @binding(0) var<storage, read> IN: array<f32>;
@group(0) @binding(1) var<storage, read_write> OUT: array<f32>;
// #params SsimParams (src/ops/kernels/ssim.ts)
@group(0) @binding(2) var<storage, read> params: Params;
// #include ssim_window

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
// #include ssim_geometry
  if (MODE == 0u) {
    if (i >= P * h * w) { return; }
    let x = i % w;
    let y = (i / w) % h;
    let p = i / (h * w);
    var acc = 0.0;
    for (var t = 0u; t < k; t++) {
      var row = 0.0;
      let base = (p * H + y + t) * W + x;
      for (var u = 0u; u < k; u++) { row += gw(u) * IN[base + u]; }
      acc += gw(t) * row;
    }
    OUT[i] = acc;
    return;
  }
  if (i >= P * H * W) { return; }
  let x = i % W;
  let y = (i / W) % H;
  let p = i / (H * W);
  let t0 = select(0u, y - (h - 1u), y >= h);
  let t1 = min(k, y + 1u);
  let u0 = select(0u, x - (w - 1u), x >= w);
  let u1 = min(k, x + 1u);
  var acc = 0.0;
  for (var t = t0; t < t1; t++) {
    var row = 0.0;
    let base = (p * h + (y - t)) * w;
    for (var u = u0; u < u1; u++) { row += gw(u) * IN[base + x - u]; }
    acc += gw(t) * row;
  }
  OUT[i] = acc;
}
