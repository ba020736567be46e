// Fused attention forward for CPU adapters ("rows" family): one query row per invocation, no
// workgroup memory. Each invocation keeps its q row (D4 vec4, pre-scaled) and its output accumulator
// (DV4 vec4) in registers and walks the keys four at a time with an online softmax (one rescale per
// four keys). The invocations of a workgroup read the same K and V rows, which CPU drivers load once
// for all lanes. Same bindings, params and results (O, logsumexp) as attention_fwd.wgsl; head sizes
// must be multiples of 4.
const D4: u32 = {{D4}}u;
const DV4: u32 = {{DV4}}u;
const WG: u32 = {{WG}}u;

var<private> NAN_BITS: u32 = 0x7fc00000u;

@group(0) @binding(0) var<storage, read> Q: array<vec4f>;   // [B, Lq, D]
@group(0) @binding(1) var<storage, read> K: array<vec4f>;   // [B, Lk, D]
@group(0) @binding(2) var<storage, read> V: array<vec4f>;   // [B, Lk, DV]
@group(0) @binding(3) var<storage, read> M: array<f32>;     // mask, strided (bound to Q without a mask)
@group(0) @binding(4) var<storage, read_write> O: array<vec4f>;  // [B, Lq, DV]
@group(0) @binding(5) var<storage, read_write> LSE: array<f32>;  // [B, Lq]
// Lq, Lk, scale bits, causal, mask stride q, mask stride k, batch rank r, B, D, DV, mask kind, BK,
// batchShape[r], maskBatchStride[r]
@group(0) @binding(6) var<storage, read> params: array<u32>;

// #include attention_mask

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let lq = params[0];
  let lk = params[1];
  let scale = bitcast<f32>(params[2]);
  let causal = params[3] != 0u;
  MSQ = params[4];
  MSK = params[5];
  MKIND = params[10];
  let b = wid.y + wid.z * nwg.y;
  if (b >= params[7]) { return; }
  let ninf = -bitcast<f32>(INF_BITS);
  let row = wid.x * WG + lane;
  let i = min(row, lq - 1u);
  let mb = mask_base(b);
  var q: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) { q[c] = Q[(b * lq + i) * D4 + c] * scale; }
  var acc: array<vec4f, DV4>;
  for (var c = 0u; c < DV4; c++) { acc[c] = vec4f(0.0); }
  var m = ninf;
  var l = 0.0;
  var kEnd = lk;
  if (causal) { kEnd = min(lk, min(lq, wid.x * WG + WG)); }
  for (var j = 0u; j < kEnd; j += 4u) {
    var s = vec4f(0.0);
    for (var c = 0u; c < D4; c++) {
      s.x += dot(q[c], K[(b * lk + min(j, lk - 1u)) * D4 + c]);
      s.y += dot(q[c], K[(b * lk + min(j + 1u, lk - 1u)) * D4 + c]);
      s.z += dot(q[c], K[(b * lk + min(j + 2u, lk - 1u)) * D4 + c]);
      s.w += dot(q[c], K[(b * lk + min(j + 3u, lk - 1u)) * D4 + c]);
    }
    s = vec4f(logit(s.x, i, j, lk, causal, mb), logit(s.y, i, j + 1u, lk, causal, mb), logit(s.z, i, j + 2u, lk, causal, mb), logit(s.w, i, j + 3u, lk, causal, mb));
    let mt = max(m, max(max(s.x, s.y), max(s.z, s.w)));
    let alpha = select(exp(m - mt), 0.0, m == ninf);
    let p = select(exp(s - vec4f(mt)), vec4f(0.0), s == vec4f(ninf));
    l = l * alpha + p.x + p.y + p.z + p.w;
    for (var c = 0u; c < DV4; c++) {
      var a = acc[c] * alpha;
      a = fma(vec4f(p.x), V[(b * lk + min(j, lk - 1u)) * DV4 + c], a);
      a = fma(vec4f(p.y), V[(b * lk + min(j + 1u, lk - 1u)) * DV4 + c], a);
      a = fma(vec4f(p.z), V[(b * lk + min(j + 2u, lk - 1u)) * DV4 + c], a);
      a = fma(vec4f(p.w), V[(b * lk + min(j + 3u, lk - 1u)) * DV4 + c], a);
      acc[c] = a;
    }
    m = mt;
  }
  if (row >= lq) { return; }
  let nan = bitcast<f32>(NAN_BITS);
  let bad = !(l > 0.0);
  let inv = 1.0 / l;
  for (var c = 0u; c < DV4; c++) { O[(b * lq + row) * DV4 + c] = select(acc[c] * inv, vec4f(nan), bad); }
  LSE[b * lq + row] = select(m + log(l), nan, bad);
}
