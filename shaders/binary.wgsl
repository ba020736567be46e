// out[i] = f(a[ia], b[ib]) with numpy broadcasting: strides of broadcast dimensions are 0.
// {{EXPR}} is an expression of `a` and `b`.
// Entry `main`: an element per thread. Entry `main4`: four per thread, as vec4 loads and stores, where
// the innermost dimension's size is a multiple of 4 and each operand walks it with stride 1 or 0.
// Runtime (not const-evaluated) special values: WGSL rejects inf/nan in constant expressions.
var<private> INF_BITS: u32 = 0x7f800000u;
var<private> NAN_BITS: u32 = 0x7fc00000u;
fn pos_inf() -> f32 { return bitcast<f32>(INF_BITS); }
fn nan() -> f32 { return bitcast<f32>(NAN_BITS); }
// Bitwise (fast-math compilers may fold v != v away); used to propagate NaN as PyTorch does.
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
// #params BroadcastParams (src/ops/kernels/elementwise.ts)
@group(0) @binding(3) var<storage, read> params: Params;
// The same buffers seen as vec4 (entry main4 only; an entry point may not use both views).
@group(0) @binding(0) var<storage, read> A4: array<vec4f>;
@group(0) @binding(1) var<storage, read> B4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dst4: array<vec4f>;

// pow with PyTorch's real-valued semantics: negative bases with integral exponents are allowed.
fn powf(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (a == 0.0) { return select(pos_inf(), 0.0, b > 0.0); }
  let r = exp2(b * log2(abs(a)));
  if (a > 0.0) { return r; }
  if (fract(b) != 0.0) { return nan(); }
  return select(r, -r, fract(b * 0.5) != 0.0);
}

// #include strided_offsets

fn op(a: f32, b: f32) -> f32 {
  return {{EXPR}};
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  let rank = params.rank;
  if (rank == 0u) {
    dst[i] = op(A[i], B[i]); // same shape, contiguous
    return;
  }
  let o = strided_offsets(i, rank);
  dst[i] = op(A[o.x], B[o.y]);
}

fn op4(a: vec4f, b: vec4f) -> vec4f {
  return vec4f(op(a.x, b.x), op(a.y, b.y), op(a.z, b.z), op(a.w, b.w));
}

// Four elements at a (multiple of 4) index `at` of A4/B4: a vec4 where the stride is 1, a splat where 0.
fn load4a(at: u32, inner: u32) -> vec4f {
  if (inner == 1u) { return A4[at / 4u]; }
  return vec4f(A4[at / 4u][at % 4u]);
}

fn load4b(at: u32, inner: u32) -> vec4f {
  if (inner == 1u) { return B4[at / 4u]; }
  return vec4f(B4[at / 4u][at % 4u]);
}

@compute @workgroup_size(256)
fn main4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n / 4u) { return; }
  let rank = params.rank;
  if (rank == 0u) {
    dst4[i] = op4(A4[i], B4[i]);
    return;
  }
  let o = strided_offsets(4u * i, rank);
  dst4[i] = op4(load4a(o.x, params.dims[2u * rank - 1u]), load4b(o.y, params.dims[3u * rank - 1u]));
}
