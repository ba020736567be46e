// (inside main) The params words every fused attention kernel starts with; returns from workgroups past
// the last batch·head. The head sizes are read at run time so that loops over them stay loops.
  let lq = params[0];
  let lk = params[1];
  let scale = bitcast<f32>(params[2]);
  let causal = params[3] != 0u;
  MKIND = params[10];
  MSQ = params[4];
  MSK = params[5];
  let D = params[8];
  let DV = params[9];
  let nb = params[7];
  let b = wid.y + wid.z * nwg.y;
  if (b >= nb) { return; }
