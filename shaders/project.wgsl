// In place: x = clamp(x, lo, hi), then, with a center c, x = c + clamp(x - c, -r, r) (an L∞ ball).
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> c: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<u32>; // n, lo bits, hi bits, radius bits, hasCenter

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params[0]) { return; }
  var y = x[i];
  if (params[4] != 0u) {
    let r = bitcast<f32>(params[3]);
    y = c[i] + clamp(y - c[i], -r, r);
  }
  x[i] = min(max(y, bitcast<f32>(params[1])), bitcast<f32>(params[2]));
}
