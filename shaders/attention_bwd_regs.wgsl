// Fused attention backward in one pass, for CPU adapters ("regs"; see attention_fwd_regs.wgsl and
// src/ops/attention-regs.ts): the dK/dV kernel (attention_bwd_dkv_regs.wgsl) that also sums dQ, so that
// S and dP are computed once instead of once per kernel (7 GEMM-sized products against 9, 5 of them
// in the backward). WGSL has no float atomics, so the dQ contributions of different key blocks go to
// per-slot partial sums: workgroup x of the W = num_workgroups.x slots walks key blocks x, x + W, …
// and adds dS·K into its own copy of dQ (zeroed before; summed and scaled by attention_bwd_dq_sum.wgsl).
// Memory: W copies of dQ, W fixed by the caller — O(L·D), never O(L²).
enable subgroups;

// #include attention_regs_inputs
@group(0) @binding(4) var<storage, read> G: array<vec4f>;  // dO [B, Lq, DV]
@group(0) @binding(5) var<storage, read> RD: array<vec2f>; // (lse, Δ) per query row
@group(0) @binding(6) var<storage, read_write> DKV: array<vec4f>; // dK [B, Lk, D], then dV [B, Lk, DV]
@group(0) @binding(7) var<storage, read_write> DQP: array<vec4f>; // [W, B, Lq, D]: dQ / scale per slot
// #params AttentionParams (src/ops/kernels/attention.ts)
@group(0) @binding(8) var<storage, read> params: Params;

// #include attention_mask

@compute @workgroup_size({{SG}})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sg: u32) {
// #include attention_params
// #include attention_regs_start
  let slot = wid.x * nb * lq * {{D4}}u;
// #include attention_regs_query_tiles
}
