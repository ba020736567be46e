// One workgroup per output element reduces over the reduced axes (any set, any strides).
// Entry `per_output`: one thread per output element, no tree (CPU adapters, many outputs).
// MODE: 0 sum, 1 max, 2 min, 3 logsumexp, 4 sum of squared deviations from the mean.
// Runtime (not const-evaluated) special values: WGSL rejects inf/nan in constant expressions.
var<private> INF_BITS: u32 = 0x7f800000u;
var<private> NAN_BITS: u32 = 0x7fc00000u;
fn pos_inf() -> f32 { return bitcast<f32>(INF_BITS); }
fn nan() -> f32 { return bitcast<f32>(NAN_BITS); }
// Bitwise (fast-math compilers may fold v != v away); used to propagate NaN as PyTorch does.
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

const WG: u32 = 64u;
const MODE: u32 = {{MODE}}u;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
// #params ReduceParams (src/ops/kernels/reduce.ts)
@group(0) @binding(2) var<storage, read> params: Params;

var<workgroup> part: array<f32, 64>;

fn offset_of(index: u32, count: u32, base: u32) -> u32 {
  // params.dims[base..] holds shape[count] followed by stride[count]
  var rest = index;
  var off = 0u;
  for (var d = i32(count) - 1; d >= 0; d--) {
    let size = params.dims[base + u32(d)];
    off += (rest % size) * params.dims[base + count + u32(d)];
    rest = rest / size;
  }
  return off;
}

fn combine(a: f32, b: f32, mode: u32) -> f32 {
  // max/min of WGSL may drop a NaN operand; torch.amax/amin propagate it.
  if (mode != 0u && (is_nan(a) || is_nan(b))) { return a + b; }
  if (mode == 1u) { return max(a, b); }
  if (mode == 2u) { return min(a, b); }
  return a + b;
}

fn identity(mode: u32) -> f32 {
  if (mode == 1u) { return -pos_inf(); }
  if (mode == 2u) { return pos_inf(); }
  return 0.0;
}

fn tree(v: f32, lid: u32, mode: u32) -> f32 {
  part[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { part[lid] = combine(part[lid], part[lid + s], mode); }
    workgroupBarrier();
  }
  let r = part[0];
  workgroupBarrier();
  return r;
}

// The mode of the first pass: sum / max / min (the max for logsumexp, the sum for variance's mean).
const MODE1: u32 = select(select(0u, 1u, MODE == 3u), MODE, MODE < 3u);

// One or two reduced axes (after coalescing: a bias gradient's batch and pixels) are walked as nested
// loops, the inner one from `first` by `step`, with no index decode per element; `inner_fits` says
// whether the inner axis is long enough for every thread of the step to have work.
struct Nest { outer: u32, inner: u32, so: u32, si: u32 }

fn nest() -> Nest {
  let n = params.nRed;
  let b = 2u * params.nKeep;
  if (n == 2u) { return Nest(params.dims[b], params.dims[b + 1u], params.dims[b + 2u], params.dims[b + 3u]); }
  return Nest(1u, params.dims[b], 0u, params.dims[b + 1u]);
}

fn nested(step: u32) -> bool {
  let n = params.nRed;
  return n == 1u || (n == 2u && params.dims[2u * params.nKeep + 1u] >= step);
}

// Passes over the reduced elements first, first + step, ...: a workgroup strides by WG, a lone thread by 1.
fn first_pass(base: u32, first: u32, step: u32) -> f32 {
  var acc = identity(MODE1);
  if (nested(step)) {
    let q = nest();
    for (var a = 0u; a < q.outer; a++) {
      let row = base + a * q.so;
      for (var j = first; j < q.inner; j += step) { acc = combine(acc, src[row + j * q.si], MODE1); }
    }
    return acc;
  }
  let red = params.redCount;
  let nRed = params.nRed;
  let redBase = 2u * params.nKeep;
  for (var j = first; j < red; j += step) { acc = combine(acc, src[base + offset_of(j, nRed, redBase)], MODE1); }
  return acc;
}

// The centre of the second pass (logsumexp: the max, 0 when infinite; variance: the mean).
fn center_of(r1: f32) -> f32 {
  if (MODE == 4u) { return r1 / f32(params.redCount); }
  if (MODE == 3u && abs(r1) == pos_inf()) { return 0.0; }
  return r1;
}

// Sum of exp(x - center) (logsumexp) or of (x - center)^2 (variance).
fn second_pass(base: u32, center: f32, first: u32, step: u32) -> f32 {
  var acc = 0.0;
  if (nested(step)) {
    let q = nest();
    for (var a = 0u; a < q.outer; a++) {
      let row = base + a * q.so;
      for (var j = first; j < q.inner; j += step) { acc += deviation(src[row + j * q.si] - center); }
    }
    return acc;
  }
  let red = params.redCount;
  let nRed = params.nRed;
  let redBase = 2u * params.nKeep;
  for (var j = first; j < red; j += step) { acc += deviation(src[base + offset_of(j, nRed, redBase)] - center); }
  return acc;
}

fn deviation(v: f32) -> f32 {
  if (MODE == 3u) { return exp(v); }
  return v * v;
}

fn finish(r2: f32, center: f32) -> f32 {
  if (MODE == 3u) { return log(r2) + center; }
  return r2;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o = wid.x + wid.y * nwg.x;
  let valid = o < params.outCount; // uniform across the workgroup
  var base = 0u;
  if (valid) { base = offset_of(o, params.nKeep, 0u); }
  var acc = identity(MODE1);
  if (valid) { acc = first_pass(base, lid, WG); }
  let r1 = tree(acc, lid, MODE1);
  if (MODE < 3u) {
    if (valid && lid == 0u) { dst[o] = r1; }
    return;
  }
  let center = center_of(r1);
  var acc2 = 0.0;
  if (valid) { acc2 = second_pass(base, center, lid, WG); }
  let r2 = tree(acc2, lid, 0u);
  if (valid && lid == 0u) { dst[o] = finish(r2, center); }
}

@compute @workgroup_size(64)
fn per_output(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = gid.x + gid.y * nwg.x * 64u;
  if (o >= params.outCount) { return; }
  let base = offset_of(o, params.nKeep, 0u);
  let r1 = first_pass(base, 0u, 1u);
  if (MODE < 3u) {
    dst[o] = r1;
    return;
  }
  let center = center_of(r1);
  dst[o] = finish(second_pass(base, center, 0u, 1u), center);
}
