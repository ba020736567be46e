// (inside main, after conv_params) The kernel window of ConvParams: KH × KW taps, stride SH, SW and
// dilation DH, DW (parameters, not constants: one pipeline serves every window).
  let KH = params.KH;
  let KW = params.KW;
  let SH = i32(params.SH);
  let SW = i32(params.SW);
  let DH = i32(params.DH);
  let DW = i32(params.DW);
