// Shared by the fused attention backward kernels (after attention_mask).
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

// P_ij from the masked logit and the row's lse; a fully masked row (lse NaN) gives NaN, as PyTorch.
fn prob(z: f32, lse: f32) -> f32 {
  let ninf = -bitcast<f32>(INF_BITS);
  if (is_nan(lse)) { return lse; }
  return select(exp(z - lse), 0.0, z == ninf);
}
