// Fused attention forward for CPU adapters ("regs", no workgroup memory; see src/ops/attention-regs.ts).
// One workgroup = one subgroup of SG lanes and TM query rows of one batch·head; per tile of KPL·SG keys
// each lane owns KPL keys: S = Q·Kᵀ (Q held in registers, row i by lane i % SG, shared by broadcast;
// K rows loaded per lane and transposed in registers), masked, online softmax with subgroup max / sum,
// then O += P·V with each lane owning vec4 column chunks of O (V rows loaded per lane, P shared by
// broadcast). Saves the row's logsumexp for the backward kernels; a fully masked row gives NaN.
enable subgroups;
var<private> NAN_BITS: u32 = 0x7fc00000u;

@group(0) @binding(0) var<storage, read> Q: array<vec4f>;  // [B, Lq, D]
@group(0) @binding(1) var<storage, read> K: array<vec4f>;  // [B, Lk, D]
@group(0) @binding(2) var<storage, read> V: array<vec4f>;  // [B, Lk, DV]
@group(0) @binding(3) var<storage, read> M: array<f32>;    // mask, strided (bound to Q without a mask)
@group(0) @binding(4) var<storage, read_write> O: array<vec4f>;  // [B, Lq, DV]
@group(0) @binding(5) var<storage, read_write> LSE: array<f32>;  // [B, Lq]
// as attention_fwd.wgsl
@group(0) @binding(6) var<storage, read> params: array<u32>;

// #include attention_mask

@compute @workgroup_size({{SG}})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sg: u32) {
// #include attention_params
  let ninf = -bitcast<f32>(INF_BITS);
  let mb = mask_base(b);
  _ = M[0]; // keeps the mask binding in the layout when its loads are compiled out
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
