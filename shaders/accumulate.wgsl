// Gradient accumulation for the autograd engine: dst[i] = a[i] + b[i], or a constant fill (MODE 1:
// dst[i] = value, when `fill` is set) for the implicit gradient of a one-element output. Same-shape f32 tensors.
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
// #params AccumulateParams (src/autograd/accumulate.ts)
@group(0) @binding(3) var<storage, read> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  if (params.fill != 0u) {
    dst[i] = params.value;
  } else {
    dst[i] = a[i] + b[i];
  }
}
