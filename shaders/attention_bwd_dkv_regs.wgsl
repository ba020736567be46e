// Fused attention backward, dK and dV, for CPU adapters ("regs"; see attention_fwd_regs.wgsl and
// src/ops/attention-regs.ts). One subgroup per TM keys of one batch·head walks the queries in tiles of
// KPL·SG (KPL per lane): Sᵀ = K·Qᵀ·scale and dPᵀ = V·dOᵀ (key rows shared by broadcast, query rows loaded
// per lane), Pᵀ = exp(Sᵀ − lse), dSᵀ = Pᵀ ∘ (dPᵀ − Δ), dV += Pᵀ·dO and dK += dSᵀ·Q with each lane
// owning vec4 chunks of them. Writes dK then dV into one buffer, as the other families.
enable subgroups;

// #include attention_regs_inputs
@group(0) @binding(4) var<storage, read> G: array<vec4f>;  // dO [B, Lq, DV]
@group(0) @binding(5) var<storage, read> RD: array<vec2f>; // (lse, Δ) per query row
@group(0) @binding(6) var<storage, read_write> DKV: array<vec4f>; // dK [B, Lk, D], then dV [B, Lk, DV]
// #params AttentionParams (src/ops/kernels/attention.ts)
@group(0) @binding(7) var<storage, read> params: Params;

// #include attention_mask

@compute @workgroup_size({{SG}})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sg: u32) {
// #include attention_params
// #include attention_regs_start
// #include attention_regs_query_tiles
}
