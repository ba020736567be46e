// Shared by the fused attention kernels: mask kind and strides (set from AttentionParams at the start of
// main), the mask offset of a batch·head, and the masked logit of (query i, key j).
var<private> INF_BITS: u32 = 0x7f800000u;
var<private> MKIND: u32;
var<private> MSQ: u32;
var<private> MSK: u32;

fn mask_base(b: u32) -> u32 {
  let r = params.batchRank;
  var rest = b;
  var off = 0u;
  for (var d = i32(r) - 1; d >= 0; d--) {
    let size = params.dims[u32(d)];
    off += (rest % size) * params.dims[r + u32(d)];
    rest = rest / size;
  }
  return off;
}

// The logit of (query i, key j) from s = q·k·scale: -inf outside the keys, above the causal diagonal
// (top-left aligned, tril(ones(Lq, Lk))) or where a keep-mask is 0; plus an additive mask.
fn logit(s: f32, i: u32, j: u32, lk: u32, causal: bool, mb: u32) -> f32 {
  let ninf = -bitcast<f32>(INF_BITS);
  if (j >= lk || (causal && j > i)) { return ninf; }
  if (MKIND == 1u) { return s + M[mb + i * MSQ + j * MSK]; }
  if (MKIND == 2u) { return select(ninf, s, M[mb + i * MSQ + j * MSK] != 0.0); }
  return s;
}
