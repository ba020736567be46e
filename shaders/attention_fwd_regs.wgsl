// Fused attention forward for CPU adapters ("regs", no workgroup memory; see src/ops/attention-regs.ts).
// One workgroup = one subgroup of SG lanes and TM query rows of one batch·head; per tile of KPL·SG keys
// each lane owns KPL keys: S = Q·Kᵀ (Q rows loaded TM / SG per lane and shared by broadcast, K rows
// loaded per lane and transposed in registers), masked, online softmax with subgroup max / sum, then
// O += P·V with each lane owning vec4 column chunks of O (V rows loaded per lane, P shared by shuffle).
// Saves the row's logsumexp for the backward kernels; a fully masked row gives NaN.
enable subgroups;
var<private> NAN_BITS: u32 = 0x7fc00000u;

// #include attention_regs_inputs
@group(0) @binding(4) var<storage, read_write> O: array<vec4f>;  // [B, Lq, DV]
@group(0) @binding(5) var<storage, read_write> LSE: array<f32>;  // [B, Lq]
// #params AttentionParams (src/ops/kernels/attention.ts)
@group(0) @binding(6) var<storage, read> params: Params;

// #include attention_mask

@compute @workgroup_size({{SG}})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sg: u32) {
// #include attention_params
// #include attention_regs_start
// #include attention_regs_key_tiles
}
