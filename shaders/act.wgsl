// Activation derivatives times an incoming gradient: out[i] = {{EXPR}}, an expression of x = X[i],
// g = G[i] and the f32 params s0, s1 (see the table in src/ops/activation.ts). One pass instead of a
// derivative map followed by a multiply.
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> OUT: array<f32>;
// #params MapParams (src/ops/kernels/elementwise.ts)
@group(0) @binding(3) var<storage, read> params: Params;

// #include erf

fn op(x: f32, g: f32, s0: f32, s1: f32) -> f32 {
  return {{EXPR}};
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  OUT[i] = op(X[i], G[i], params.s0, params.s1);
}
