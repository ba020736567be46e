// (inside main) The AttentionParams every fused attention kernel starts with; returns from workgroups
// past the last batch·head. The head sizes are read at run time so that loops over them stay loops.
  let lq = params.lq;
  let lk = params.lk;
  let scale = params.scale;
  let causal = params.causal != 0u;
  MKIND = params.maskKind;
  MSQ = params.maskStrideQ;
  MSK = params.maskStrideK;
  let D = params.D;
  let DV = params.DV;
  let nb = params.batches;
  let b = wid.y + wid.z * nwg.y;
  if (b >= nb) { return; }
