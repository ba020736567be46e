// (inside main) The query-block kernels (forward, dQ): TM query rows from r0 walk the keys in tiles of
// KT = KPL·SG, lane sg owning keys kj .. kj + KPL − 1; `masked` when a tile needs logit() (keys past
// Lk, causality, a mask).
  let r0 = wid.x * {{TM}}u;
  var kEnd = lk;
  if (causal) { kEnd = min(lk, r0 + {{TM}}u); }
{{SETUP}}
  for (var j0 = 0u; j0 < kEnd; j0 += {{KT}}u) {
    let kj = j0 + sg * {{KPL}}u;
    let masked = j0 + {{KT}}u > lk || causal || MKIND != 0u;
{{TILE}}
  }
{{STORE}}
