// Fused attention backward, dQ, for CPU adapters ("regs"; see attention_fwd_regs.wgsl and
// src/ops/attention-regs.ts). One subgroup per TM query rows of one batch·head walks the keys in tiles
// of KPL·SG (KPL per lane): S = Q·Kᵀ·scale and dP = dO·Vᵀ (rows shared by broadcast, key rows loaded per
// lane), P = exp(S − lse), dS = P ∘ (dP − Δ), dQ += dS·K with each lane owning vec4 chunks of dQ.
enable subgroups;

// #include attention_regs_inputs
@group(0) @binding(4) var<storage, read> G: array<vec4f>;  // dO [B, Lq, DV]
@group(0) @binding(5) var<storage, read> RD: array<vec2f>; // (lse, Δ) per query row
@group(0) @binding(6) var<storage, read_write> DQ: array<vec4f>; // [B, Lq, D]
// #params AttentionParams (src/ops/kernels/attention.ts)
@group(0) @binding(7) var<storage, read> params: Params;

// #include attention_mask

@compute @workgroup_size({{SG}})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sg: u32) {
// #include attention_params
// #include attention_regs_start
// #include attention_regs_key_tiles
}
