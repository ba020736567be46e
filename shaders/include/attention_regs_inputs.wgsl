// The inputs of the regs attention kernels (generated in src/ops/kernels/attention-regs.ts): rows as vec4 chunks.
@group(0) @binding(0) var<storage, read> Q: array<vec4f>;  // [B, Lq, D]
@group(0) @binding(1) var<storage, read> K: array<vec4f>;  // [B, Lk, D]
@group(0) @binding(2) var<storage, read> V: array<vec4f>;  // [B, Lk, DV]
@group(0) @binding(3) var<storage, read> M: array<f32>;    // mask, strided (bound to Q without a mask)
