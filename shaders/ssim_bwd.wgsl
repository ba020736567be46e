// SSIM backward: the adjoint of ssim_fwd.wgsl. With d_q = ∂S/∂stat_q (D, [4, P, h, w]) and
// s = GS[0] / (P·h·w) (the upstream gradient of the mean):
//   dx = s·(Fᵀd_μx + 2x·Fᵀd_E[x²] + y·Fᵀd_E[xy]),  dy = s·(Fᵀd_μy + 2y·Fᵀd_E[x²] + x·Fᵀd_E[xy])
// where Fᵀ is the adjoint of the valid separable Gaussian filter ("full" correlation), done in two passes.
// MODE 0 (vertical adjoint): U[q][p, y, j] = Σ_t g[t]·D[q][p, y − t, j] for 0 <= y − t < h; U is [4, P, H, w].
// MODE 1 (horizontal adjoint + combine): one thread per pixel (p, y, x) → GX, GY.
const MODE: u32 = {{MODE}}u;

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Y: array<f32>;
@group(0) @binding(2) var<storage, read> D: array<f32>;
@group(0) @binding(3) var<storage, read> GS: array<f32>;
@group(0) @binding(4) var<storage, read_write> U: array<f32>;
@group(0) @binding(5) var<storage, read_write> GX: array<f32>;
@group(0) @binding(6) var<storage, read_write> GY: array<f32>;
// #params SsimParams (src/ops/kernels/ssim.ts): meanScale = 1/(P·h·w)
@group(0) @binding(7) var<storage, read> params: Params;
// #include ssim_window

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
// #include ssim_geometry
  let m = P * h * w;
  let n = P * H * w;
  if (MODE == 0u) {
    if (i >= n) { return; }
    let j = i % w;
    let y = (i / w) % H;
    let p = i / (H * w);
    var a = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
    let t0 = select(0u, y - (h - 1u), y >= h);
    let t1 = min(k, y + 1u);
    for (var t = t0; t < t1; t++) {
      let g = gw(t);
      let o = (p * h + (y - t)) * w + j;
      for (var q = 0u; q < 4u; q++) { a[q] += g * D[q * m + o]; }
    }
    for (var q = 0u; q < 4u; q++) { U[q * n + i] = a[q]; }
    return;
  }
  let total = P * H * W;
  if (i >= total) { return; }
  let x = i % W;
  let row = i / W; // p·H + y
  var a = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  let t0 = select(0u, x - (w - 1u), x >= w);
  let t1 = min(k, x + 1u);
  for (var t = t0; t < t1; t++) {
    let g = gw(t);
    let o = row * w + (x - t);
    for (var q = 0u; q < 4u; q++) { a[q] += g * U[q * n + o]; }
  }
  let s = GS[0] * params.meanScale;
  let vx = X[i];
  let vy = Y[i];
  GX[i] = s * (a[0] + 2.0 * vx * a[2] + vy * a[3]);
  GY[i] = s * (a[1] + 2.0 * vy * a[2] + vx * a[3]);
}
