// (inside main) The geometry words the convolution kernels share with conv_gemm.wgsl:
// Bt, C, H, W, Co, OH, OW, G, Cg, Mg, pt, pl, M, N, K. Lets, not private variables: the uniformity
// analysis must see loop bounds derived from them as uniform (subgroupBroadcast needs it).
  let C = params[1];
  let H = i32(params[2]);
  let W = i32(params[3]);
  let Co = params[4];
  let OH = i32(params[5]);
  let OW = i32(params[6]);
  let G = params[7];
  let Cg = params[8];
  let Mg = params[9];
  let pt = i32(params[10]);
  let pl = i32(params[11]);
  let M = params[12];
  let N = params[13];
  let K = params[14];
