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
// outCount, redCount, nKeep, nRed, keepShape[nKeep], keepStride[nKeep], redShape[nRed], redStride[nRed]
@group(0) @binding(2) var<storage, read> params: array<u32>;

var<workgroup> part: array<f32, 64>;

fn offset_of(index: u32, count: u32, base: u32) -> u32 {
  // base points at shape[count] followed by stride[count]
  var rest = index;
  var off = 0u;
  for (var d = i32(count) - 1; d >= 0; d--) {
    let size = params[base + u32(d)];
    off += (rest % size) * params[base + count + u32(d)];
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

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o = wid.x + wid.y * nwg.x;
  let outCount = params[0];
  let red = params[1];
  let nKeep = params[2];
  let nRed = params[3];
  let valid = o < outCount;
  var base = 0u;
  if (valid) { base = offset_of(o, nKeep, 4u); }
  let redBase = 4u + 2u * nKeep;
  // Pass 1: sum / max / min (and the max for logsumexp, the sum for the mean of var).
  let mode1 = select(select(0u, 1u, MODE == 3u), MODE, MODE < 3u);
  var acc = identity(mode1);
  if (valid) {
    for (var j = lid; j < red; j += WG) {
      acc = combine(acc, src[base + offset_of(j, nRed, redBase)], mode1);
    }
  }
  let r1 = tree(acc, lid, mode1);
  if (MODE < 3u) {
    if (valid && lid == 0u) { dst[o] = r1; }
    return;
  }
  // Pass 2: sum of exp(x - max) or of (x - mean)^2.
  var center = r1;
  if (MODE == 4u) { center = r1 / f32(red); }
  if (MODE == 3u && abs(r1) == pos_inf()) { center = 0.0; }
  var acc2 = 0.0;
  if (valid) {
    for (var j = lid; j < red; j += WG) {
      let v = src[base + offset_of(j, nRed, redBase)] - center;
      if (MODE == 3u) { acc2 += exp(v); } else { acc2 += v * v; }
    }
  }
  let r2 = tree(acc2, lid, 0u);
  if (valid && lid == 0u) {
    if (MODE == 3u) { dst[o] = log(r2) + center; } else { dst[o] = r2; }
  }
}

@compute @workgroup_size(64)
fn per_output(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = gid.x + gid.y * nwg.x * 64u;
  let outCount = params[0];
  if (o >= outCount) { return; }
  let red = params[1];
  let nKeep = params[2];
  let nRed = params[3];
  let base = offset_of(o, nKeep, 4u);
  let redBase = 4u + 2u * nKeep;
  let mode1 = select(select(0u, 1u, MODE == 3u), MODE, MODE < 3u);
  var acc = identity(mode1);
  for (var j = 0u; j < red; j++) {
    acc = combine(acc, src[base + offset_of(j, nRed, redBase)], mode1);
  }
  if (MODE < 3u) {
    dst[o] = acc;
    return;
  }
  var center = acc;
  if (MODE == 4u) { center = acc / f32(red); }
  if (MODE == 3u && abs(acc) == pos_inf()) { center = 0.0; }
  var acc2 = 0.0;
  for (var j = 0u; j < red; j++) {
    let v = src[base + offset_of(j, nRed, redBase)] - center;
    if (MODE == 3u) { acc2 += exp(v); } else { acc2 += v * v; }
  }
  if (MODE == 3u) { dst[o] = log(acc2) + center; } else { dst[o] = acc2; }
}
