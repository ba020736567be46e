// (inside main, after attention_params) Shared start of the regs attention kernels.
  let mb = mask_base(b);
  _ = M[0]; // keeps the mask binding in the layout when its loads are compiled out
  let ninf = -bitcast<f32>(INF_BITS);
