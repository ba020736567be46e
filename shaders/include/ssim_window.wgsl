// (module scope, after the params binding) The SSIM kernels' window: tap t of the 1-D Gaussian
// (SsimParams.window, k taps; the geometry is P planes of H×W, valid maps h = H − k + 1, w = W − k + 1).
fn gw(t: u32) -> f32 { return params.window[t]; }
