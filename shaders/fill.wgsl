// dst[i] = start + i * step  (a constant fill when step is 0; arange otherwise).
@group(0) @binding(0) var<storage, read_write> dst: array<f32>;
// #params FillParams (src/ops/kernels/fill.ts)
@group(0) @binding(1) var<storage, read> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.count) { return; }
  dst[i] = params.start + f32(i + params.first) * params.step;
}
