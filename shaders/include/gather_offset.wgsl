// (after gather_index) Element i of the gathered tensor (GatherParams: p.dims = its shape, then the
// source's strides) → its offset in the source range, or NOT_HERE when its row lies outside the rows
// [p.lo, p.lo + p.count) this dispatch's range holds.
const NOT_HERE: u32 = 0xffffffffu;

fn gathered_offset(i: u32) -> u32 {
  let rank = p.rank;
  let axis = p.axis;
  var rest = i;
  var off = 0u;
  var ca = 0u;
  for (var d = i32(rank) - 1; d >= 0; d--) {
    let size = p.dims[u32(d)];
    let c = rest % size;
    rest = rest / size;
    if (u32(d) == axis) { ca = c; } else { off += c * p.dims[rank + u32(d)]; }
  }
  var raw: i32;
  if (MODE == 0u) { raw = index_at(i); } else { raw = index_at(ca); }
  let row = row_of(raw, p.axisLen);
  if (row < p.lo || row >= p.lo + p.count) { return NOT_HERE; }
  return off + (row - p.lo) * p.dims[rank + axis];
}
