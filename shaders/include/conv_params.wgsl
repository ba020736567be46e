// (inside main) The ConvParams geometry the convolution kernels share with conv_gemm.wgsl. Lets, not
// private variables: the uniformity analysis must see loop bounds derived from them as uniform
// (subgroupBroadcast needs it).
  let C = params.C;
  let H = i32(params.H);
  let W = i32(params.W);
  let Co = params.Co;
  let OH = i32(params.OH);
  let OW = i32(params.OW);
  let G = params.G;
  let Cg = params.Cg;
  let Mg = params.Mg;
  let pt = i32(params.pt);
  let pl = i32(params.pl);
  let M = params.M;
  let N = params.N;
  let K = params.K;
