// (inside main) The SSIM kernels' geometry (see ssim_window).
  let P = params.P;
  let H = params.H;
  let W = params.W;
  let h = params.h;
  let w = params.w;
  let k = params.k;
