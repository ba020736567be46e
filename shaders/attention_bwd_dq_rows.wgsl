// Fused attention backward, dQ, for CPU adapters ("rows" family; attention_fwd_rows.wgsl's layout):
// one query row per invocation with q, dO and dQ in registers; the probabilities are recomputed key by
// key from the saved logsumexp: dS = P ∘ (dO·Vᵀ − D_i), dQ = scale · dS·K. Head sizes multiples of 4.
const D4: u32 = {{D4}}u;
const DV4: u32 = {{DV4}}u;
const WG: u32 = {{WG}}u;

@group(0) @binding(0) var<storage, read> Q: array<vec4f>;
@group(0) @binding(1) var<storage, read> K: array<vec4f>;
@group(0) @binding(2) var<storage, read> V: array<vec4f>;
@group(0) @binding(3) var<storage, read> M: array<f32>;
@group(0) @binding(4) var<storage, read> G: array<vec4f>;    // dO [B, Lq, DV]
@group(0) @binding(5) var<storage, read> RD: array<vec2f>;   // (logsumexp, D) per query row
@group(0) @binding(6) var<storage, read_write> DQ: array<vec4f>;
@group(0) @binding(7) var<storage, read> params: array<u32>;

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
  var g: array<vec4f, DV4>;
  for (var c = 0u; c < DV4; c++) { g[c] = G[(b * lq + i) * DV4 + c]; }
  var dq: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) { dq[c] = vec4f(0.0); }
  let rd = RD[b * lq + i];
  var kEnd = lk;
  if (causal) { kEnd = min(lk, min(lq, wid.x * WG + WG)); }
  for (var j = 0u; j < kEnd; j++) {
    let kr = (b * lk + j) * D4;
    let vr = (b * lk + j) * DV4;
    var s = 0.0;
    for (var c = 0u; c < D4; c++) { s += dot(q[c], K[kr + c]); }
    s = logit(s, i, j, lk, causal, mb);
    let p = select(exp(s - rd.x), 0.0, s == ninf);
    var dp = 0.0;
    for (var c = 0u; c < DV4; c++) { dp += dot(g[c], V[vr + c]); }
    let ds = p * (dp - rd.y);
    for (var c = 0u; c < D4; c++) { dq[c] = fma(vec4f(ds), K[kr + c], dq[c]); }
  }
  if (row >= lq) { return; }
  for (var c = 0u; c < D4; c++) { DQ[(b * lq + row) * D4 + c] = dq[c] * scale; }
}
