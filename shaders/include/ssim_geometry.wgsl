// (inside main) The SSIM kernels' geometry from params (see ssim_window).
  let P = params[0];
  let H = params[1];
  let W = params[2];
  let h = params[3];
  let w = params[4];
  let k = params[5];
