// out[i] = f(x[i]) for a contiguous tensor. {{EXPR}} is an expression of `x` (and `s0`, `s1`: f32 params).
// Bitwise (fast-math compilers may fold v != v away); used to propagate NaN as PyTorch does.
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
// #params MapParams (src/ops/kernels/elementwise.ts)
@group(0) @binding(2) var<storage, read> params: Params;
// The same buffers as vec4, for entry main4 (four elements per thread where n is a multiple of 4).
@group(0) @binding(0) var<storage, read> src4: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> dst4: array<vec4f>;

// #include erf

fn op(x: f32, s0: f32, s1: f32) -> f32 {
  return {{EXPR}};
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  dst[i] = op(src[i], params.s0, params.s1);
}

@compute @workgroup_size(256)
fn main4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n / 4u) { return; }
  let s0 = params.s0;
  let s1 = params.s1;
  let x = src4[i];
  dst4[i] = vec4f(op(x.x, s0, s1), op(x.y, s0, s1), op(x.z, s0, s1), op(x.w, s0, s1));
}
