// Softmax / logSoftmax along one axis, forward and backward, fused. A row is the n elements along
// the axis: row r starts at (r / inner) * n * inner + r % inner and steps by `inner`.
// MODE 0: y = softmax(x)                 a = x
// MODE 1: y = logSoftmax(x)              a = x
// MODE 2: dx = y * (g - sum(g * y))      a = y (softmax output), b = g
// MODE 3: dx = g - exp(y) * sum(g)       a = y (logSoftmax output), b = g
// Entry `main`: one workgroup per row (tree reduction). Entry `small`: one thread per row, for short
// rows. The forward is max-subtracted with an online (running max, rescaled sum) pass.
var<private> INF_BITS: u32 = 0x7f800000u;
var<private> NAN_BITS: u32 = 0x7fc00000u;
fn neg_inf() -> f32 { return -bitcast<f32>(INF_BITS); }
// Bitwise, so that fast-math compilers cannot fold it away: a NaN poisons its whole row (as PyTorch).
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

const WG: u32 = 64u;
const MODE: u32 = {{MODE}}u;

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>; // g (MODES 2, 3); unused (bound to A) otherwise
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
// #params SoftmaxParams (src/ops/kernels/softmax.ts): rows of n elements, `inner` apart
@group(0) @binding(3) var<storage, read> params: Params;

var<workgroup> pm: array<f32, 64>;
var<workgroup> ps: array<f32, 64>;

struct Acc { m: f32, s: f32 }

// Adds one value to a running (max, sum of exp(v - max)). -inf contributes nothing.
// A NaN or +inf input makes the sum NaN for good (PyTorch: exp(inf - inf) = NaN poisons the row).
fn push(a: Acc, v: f32) -> Acc {
  if (is_nan(a.s)) { return a; }
  if (is_nan(v) || v == -neg_inf()) { return Acc(a.m, bitcast<f32>(NAN_BITS)); }
  if (v == neg_inf()) { return a; }
  if (v > a.m) { return Acc(v, select(0.0, a.s * exp(a.m - v), a.s > 0.0) + 1.0); }
  return Acc(a.m, a.s + exp(v - a.m));
}

fn merge(a: Acc, b: Acc) -> Acc {
  let m = max(a.m, b.m);
  if (is_nan(a.s) || is_nan(b.s)) { return Acc(m, bitcast<f32>(NAN_BITS)); }
  let sa = select(0.0, a.s * exp(a.m - m), a.s > 0.0);
  let sb = select(0.0, b.s * exp(b.m - m), b.s > 0.0);
  return Acc(m, sa + sb);
}

fn row_base(r: u32) -> u32 {
  let n = params.n;
  let inner = params.inner;
  return (r / inner) * n * inner + r % inner;
}

// The value a finished row writes at element idx, given the row's (max, sum) or the row's sum.
fn out_fwd(v: f32, acc: Acc) -> f32 {
  if (MODE == 0u) { return exp(v - acc.m) / acc.s; }
  return v - acc.m - log(acc.s);
}

fn out_bwd(y: f32, g: f32, s: f32) -> f32 {
  if (MODE == 2u) { return y * (g - s); }
  return g - exp(y) * s;
}

fn bwd_term(y: f32, g: f32) -> f32 {
  if (MODE == 2u) { return g * y; }
  return g;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = wid.x + wid.y * nwg.x;
  let valid = r < params.rows; // uniform across the workgroup
  let n = params.n;
  let inner = params.inner;
  var base = 0u;
  if (valid) { base = row_base(r); }
  if (MODE < 2u) {
    var acc = Acc(neg_inf(), 0.0);
    if (valid) {
      for (var j = lid; j < n; j += WG) { acc = push(acc, A[base + j * inner]); }
    }
    pm[lid] = acc.m;
    ps[lid] = acc.s;
    workgroupBarrier();
    for (var h = WG / 2u; h > 0u; h = h / 2u) {
      if (lid < h) {
        let c = merge(Acc(pm[lid], ps[lid]), Acc(pm[lid + h], ps[lid + h]));
        pm[lid] = c.m;
        ps[lid] = c.s;
      }
      workgroupBarrier();
    }
    let total = Acc(pm[0], ps[0]);
    if (valid) {
      for (var j = lid; j < n; j += WG) {
        let k = base + j * inner;
        dst[k] = out_fwd(A[k], total);
      }
    }
    return;
  }
  var s = 0.0;
  if (valid) {
    for (var j = lid; j < n; j += WG) {
      let k = base + j * inner;
      s += bwd_term(A[k], B[k]);
    }
  }
  ps[lid] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (lid < h) { ps[lid] = ps[lid] + ps[lid + h]; }
    workgroupBarrier();
  }
  let total = ps[0];
  if (valid) {
    for (var j = lid; j < n; j += WG) {
      let k = base + j * inner;
      dst[k] = out_bwd(A[k], B[k], total);
    }
  }
}

@compute @workgroup_size(64)
fn small(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= params.rows) { return; }
  let n = params.n;
  let inner = params.inner;
  let base = row_base(r);
  if (MODE < 2u) {
    var acc = Acc(neg_inf(), 0.0);
    for (var j = 0u; j < n; j++) { acc = push(acc, A[base + j * inner]); }
    for (var j = 0u; j < n; j++) {
      let k = base + j * inner;
      dst[k] = out_fwd(A[k], acc);
    }
    return;
  }
  var s = 0.0;
  for (var j = 0u; j < n; j++) {
    let k = base + j * inner;
    s += bwd_term(A[k], B[k]);
  }
  for (var j = 0u; j < n; j++) {
    let k = base + j * inner;
    dst[k] = out_bwd(A[k], B[k], s);
  }
}
