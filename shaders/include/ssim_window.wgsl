// (module scope; the kernel defines G_AT) The SSIM kernels' window: tap t of the 1-D Gaussian, whose k
// taps follow the geometry in params (P, H, W, h, w, k: planes, their height and width, the valid
// maps' h = H − k + 1 and w = W − k + 1, the window size).
fn gw(t: u32) -> f32 { return bitcast<f32>(params[G_AT + t]); }
