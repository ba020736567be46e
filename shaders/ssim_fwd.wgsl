// SSIM forward, separable Gaussian window, valid filtering per plane (P = N·C planes of H×W; the
// maps are h×w, h = H − k + 1, w = W − k + 1); window taps g[t] in params.window.
// MODE 0 (horizontal): T[q][p, y, j] = Σ_t g[t]·v_q[p, y, j + t] for v = x, y, x², y², xy
//                      (T is [5, P, H, w]); one thread per (p, y, j).
// MODE 1 (vertical + map): the five local statistics (μx, μy, E[x²], E[y²], E[xy]) at (p, i, j), then
//   S = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)) → SM [P, h, w], and the partial
//   derivatives of S w.r.t. (μx, μy, E[x²] = E[y²], E[xy]) → D [4, P, h, w] for the backward.
const MODE: u32 = {{MODE}}u;

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Y: array<f32>;
@group(0) @binding(2) var<storage, read_write> T: array<f32>;
@group(0) @binding(3) var<storage, read_write> SM: array<f32>;
@group(0) @binding(4) var<storage, read_write> D: array<f32>;
// #params SsimParams (src/ops/kernels/ssim.ts)
@group(0) @binding(5) var<storage, read> params: Params;
// #include ssim_window

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
// #include ssim_geometry
  if (MODE == 0u) {
    let n = P * H * w;
    if (i >= n) { return; }
    let j = i % w;
    let row = i / w; // p·H + y
    let base = row * W + j;
    var a = array<f32, 5>(0.0, 0.0, 0.0, 0.0, 0.0);
    for (var t = 0u; t < k; t++) {
      let g = gw(t);
      let vx = X[base + t];
      let vy = Y[base + t];
      a[0] += g * vx;
      a[1] += g * vy;
      a[2] += g * vx * vx;
      a[3] += g * vy * vy;
      a[4] += g * vx * vy;
    }
    for (var q = 0u; q < 5u; q++) { T[q * n + i] = a[q]; }
    return;
  }
  let m = P * h * w;
  if (i >= m) { return; }
  let n = P * H * w;
  let j = i % w;
  let yi = (i / w) % h;
  let p = i / (h * w);
  let base = (p * H + yi) * w + j;
  var a = array<f32, 5>(0.0, 0.0, 0.0, 0.0, 0.0);
  for (var t = 0u; t < k; t++) {
    let g = gw(t);
    let o = base + t * w;
    for (var q = 0u; q < 5u; q++) { a[q] += g * T[q * n + o]; }
  }
  let c1 = params.c1;
  let c2 = params.c2;
  let mx = a[0];
  let my = a[1];
  let mxy = mx * my;
  let A1 = 2.0 * mxy + c1;
  let A2 = 2.0 * (a[4] - mxy) + c2;
  let B1 = mx * mx + my * my + c1;
  let B2 = (a[2] - mx * mx) + (a[3] - my * my) + c2;
  let den = B1 * B2;
  let S = A1 * A2 / den;
  SM[i] = S;
  let dA1 = A2 / den;
  let dA2 = A1 / den;
  let dB1 = -S / B1;
  let dB2 = -S / B2;
  let u = 2.0 * (dA1 - dA2);
  let v = 2.0 * (dB1 - dB2);
  D[i] = my * u + mx * v;
  D[m + i] = mx * u + my * v;
  D[2u * m + i] = dB2;
  D[3u * m + i] = 2.0 * dA2;
}
