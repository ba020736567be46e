// Fused attention backward, dK and dV, for CPU adapters ("rows" family): one key row per invocation
// with k, v, dK and dV in registers, walking the query rows: P recomputed from the saved logsumexp,
// dV += P·dO, dS = P ∘ (dO·vᵀ − D_i), dK += scale · dS·q. Writes dK [B, Lk, D] then dV [B, Lk, DV] into
// one buffer, as attention_bwd_dkv.wgsl. Head sizes multiples of 4.
const D4: u32 = {{D4}}u;
const DV4: u32 = {{DV4}}u;
const WG: u32 = {{WG}}u;

@group(0) @binding(0) var<storage, read> Q: array<vec4f>;
@group(0) @binding(1) var<storage, read> K: array<vec4f>;
@group(0) @binding(2) var<storage, read> V: array<vec4f>;
@group(0) @binding(3) var<storage, read> M: array<f32>;
@group(0) @binding(4) var<storage, read> G: array<vec4f>;    // dO [B, Lq, DV]
@group(0) @binding(5) var<storage, read> RD: array<vec2f>;   // (logsumexp, D) per query row
@group(0) @binding(6) var<storage, read_write> DKV: array<vec4f>;
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
  let nb = params[7];
  let b = wid.y + wid.z * nwg.y;
  if (b >= nb) { return; }
  let ninf = -bitcast<f32>(INF_BITS);
  let row = wid.x * WG + lane;
  let j = min(row, lk - 1u);
  let mb = mask_base(b);
  var k: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) { k[c] = K[(b * lk + j) * D4 + c] * scale; }
  var v: array<vec4f, DV4>;
  for (var c = 0u; c < DV4; c++) { v[c] = V[(b * lk + j) * DV4 + c]; }
  var dk: array<vec4f, D4>;
  var dv: array<vec4f, DV4>;
  for (var c = 0u; c < D4; c++) { dk[c] = vec4f(0.0); }
  for (var c = 0u; c < DV4; c++) { dv[c] = vec4f(0.0); }
  // Causal: query rows before the workgroup's first key see none of its keys.
  var iBegin = 0u;
  if (causal) { iBegin = min(lq, wid.x * WG); }
  for (var i = iBegin; i < lq; i++) {
    let qr = (b * lq + i) * D4;
    let gr = (b * lq + i) * DV4;
    let rd = RD[b * lq + i];
    var s = 0.0;
    for (var c = 0u; c < D4; c++) { s += dot(Q[qr + c], k[c]); }
    s = logit(s, i, row, lk, causal, mb);
    let p = select(exp(s - rd.x), 0.0, s == ninf);
    var dp = 0.0;
    for (var c = 0u; c < DV4; c++) {
      let gv = G[gr + c];
      dv[c] = fma(vec4f(p), gv, dv[c]);
      dp += dot(gv, v[c]);
    }
    let ds = p * (dp - rd.y);
    for (var c = 0u; c < D4; c++) { dk[c] = fma(vec4f(ds), Q[qr + c], dk[c]); }
  }
  if (row >= lk) { return; }
  for (var c = 0u; c < D4; c++) { DKV[(b * lk + row) * D4 + c] = dk[c] * scale; }
  let dvBase = nb * lk * D4;
  for (var c = 0u; c < DV4; c++) { DKV[dvBase + (b * lk + row) * DV4 + c] = dv[c]; }
}
