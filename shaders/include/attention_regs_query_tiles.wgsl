// (inside main) The key-block kernels (dK/dV, the one-pass backward): workgroup x takes the blocks of TM
// keys x, x + num_workgroups.x, … (one each for dK/dV, whose grid covers them all) and walks the queries
// in tiles of KT = KPL·SG, lane sg owning queries qi .. qi + KPL − 1.
  let blocks = (lk + {{TM}}u - 1u) / {{TM}}u;
  for (var kb = wid.x; kb < blocks; kb += nwg.x) {
    let k0 = kb * {{TM}}u;
    // Causal: queries before the block's first key see none of its keys.
    var iBegin = 0u;
    if (causal) { iBegin = (k0 / {{KT}}u) * {{KT}}u; }
{{SETUP}}
    for (var i0 = iBegin; i0 < lq; i0 += {{KT}}u) {
      let qi = i0 + sg * {{KPL}}u;
{{TILE}}
    }
{{STORE}}
  }
