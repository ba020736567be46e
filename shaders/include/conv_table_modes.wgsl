// (inside main, after conv_params and `let g`) Geometry of the table modes the regs and row convolution
// kernels share. Columns: MODE 0 (b, oh, ow) over the output, gathering from x [Bt, C, H, W];
// MODE 1 (b, ih, iw) over the input, gathering from dy [Bt, Co, OH, OW]. The source has Cs channels per
// group in PH × PW planes; an output image has `cols` columns in rows of colW; its channels start at chan0.
  var PH: i32 = H;
  var PW: i32 = W;
  var Cs: u32 = Cg;
  var colW: u32 = u32(OW);
  var cols: u32 = u32(OH * OW);
  var srcBatch: u32 = C * u32(H * W);
  var outBatch: u32 = Co * u32(OH * OW);
  var chan0: u32 = g * Mg;
  if (MODE == 1u) {
    PH = OH;
    PW = OW;
    Cs = Mg;
    colW = u32(W);
    cols = u32(H * W);
    srcBatch = Co * u32(OH * OW);
    outBatch = C * u32(H * W);
    chan0 = g * Cg;
  }
  let srcGroup = g * Cs * u32(PH * PW);
