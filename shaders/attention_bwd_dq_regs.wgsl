// Fused attention backward, dQ, for CPU adapters ("regs"; see attention_fwd_regs.wgsl and
// src/ops/attention-regs.ts). One subgroup per TM query rows of one batch·head walks the keys in tiles
// of KPL·SG (KPL per lane): S = Q·Kᵀ·scale and dP = dO·Vᵀ (rows shared by broadcast, key rows loaded per
// lane), P = exp(S − lse), dS = P ∘ (dP − Δ), dQ += dS·K with each lane owning vec4 chunks of dQ.
enable subgroups;

@group(0) @binding(0) var<storage, read> Q: array<vec4f>;  // [B, Lq, D]
@group(0) @binding(1) var<storage, read> K: array<vec4f>;  // [B, Lk, D]
@group(0) @binding(2) var<storage, read> V: array<vec4f>;  // [B, Lk, DV]
@group(0) @binding(3) var<storage, read> M: array<f32>;    // mask, strided (bound to Q without a mask)
@group(0) @binding(4) var<storage, read> G: array<vec4f>;  // dO [B, Lq, DV]
@group(0) @binding(5) var<storage, read> RD: array<vec2f>; // (lse, Δ) per query row
@group(0) @binding(6) var<storage, read_write> DQ: array<vec4f>; // [B, Lq, D]
// as attention_fwd.wgsl
@group(0) @binding(7) var<storage, read> params: array<u32>;

// #include attention_mask

@compute @workgroup_size({{SG}})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sg: u32) {
// #include attention_params
  let mb = mask_base(b);
  _ = M[0]; // keeps the mask binding in the layout when its loads are compiled out
  let ninf = -bitcast<f32>(INF_BITS);
  let r0 = wid.x * {{TM}}u;
  var kEnd = lk;
  if (causal) { kEnd = min(lk, r0 + {{TM}}u); }
{{SETUP}}
  for (var j0 = 0u; j0 < kEnd; j0 += {{KT}}u) {
    let kj = j0 + sg * {{KPL}}u;
    let masked = j0 + {{KT}}u > lk || causal || MKIND != 0u;
{{TILE}}
  }
{{STORE}}
}
