// Activation derivatives times an incoming gradient: out[i] = {{EXPR}}, an expression of x = X[i],
// g = G[i] and the f32 params s0, s1 (see the table in src/ops/activation.ts). One pass instead of a
// derivative map followed by a multiply.
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(3) var<storage, read> params: array<u32>; // n, s0 bits, s1 bits

// Same approximation as shaders/unary.wgsl (the forward): erfc with fractional error < 1.2e-7.
fn erf_approx(v: f32) -> f32 {
  let z = abs(v);
  let t = 1.0 / (1.0 + 0.5 * z);
  let y = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
          t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(y - 1.0, 1.0 - y, v >= 0.0);
}

fn op(x: f32, g: f32, s0: f32, s1: f32) -> f32 {
  return {{EXPR}};
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params[0]) { return; }
  OUT[i] = op(X[i], G[i], bitcast<f32>(params[1]), bitcast<f32>(params[2]));
}
