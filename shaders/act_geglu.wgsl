// GEGLU after its projection (diffusers): x [rows, 2·D] holds [hidden | gate]; out = hidden·gelu(gate).
// {{F}} is gelu and {{D1}} its derivative, as expressions of `x` (src/ops/activation.ts; kernels/elementwise.ts).
// MODE 0: OUT [rows, D] = h·gelu(gate).                                   G is unused (bound to X)
// MODE 1: OUT [rows, 2·D] = [g·gelu(gate) | g·h·gelu'(gate)], g = G [rows, D].
const MODE: u32 = {{MODE}}u;

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> OUT: array<f32>;
// #params GegluParams (src/ops/kernels/elementwise.ts)
@group(0) @binding(3) var<storage, read> params: Params;

// #include erf

fn f(x: f32) -> f32 { return {{F}}; }
fn d1(x: f32) -> f32 { return {{D1}}; }

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  let D = params.D;
  let r = i / D;
  let j = i % D;
  let hi = r * 2u * D + j;
  let h = X[hi];
  let gate = X[hi + D];
  if (MODE == 0u) {
    OUT[i] = h * f(gate);
    return;
  }
  let g = G[i];
  OUT[hi] = g * f(gate);
  OUT[hi + D] = g * h * d1(gate);
}
