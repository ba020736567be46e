// In place: x = clamp(x, lo, hi), then, with a center c, x = c + clamp(x - c, -r, r) (an L∞ ball).
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> c: array<f32>;
// #params ProjectParams (src/ops/kernels/optim.ts)
@group(0) @binding(2) var<storage, read> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  var y = x[i];
  if (params.hasCenter != 0u) {
    y = c[i] + clamp(y - c[i], -params.radius, params.radius);
  }
  x[i] = min(max(y, params.lo), params.hi);
}
