// (after gather_index) Element i of the gathered tensor (GatherParams: params.dims = its shape, then the
// source's strides) → its offset in the source range, or NOT_HERE when its row lies outside the rows
// [params.lo, params.lo + params.count) this dispatch's range holds.
const NOT_HERE: u32 = 0xffffffffu;

fn gathered_offset(i: u32) -> u32 {
  let rank = params.rank;
  let axis = params.axis;
  var rest = i;
  var off = 0u;
  var ca = 0u;
  for (var d = i32(rank) - 1; d >= 0; d--) {
    let size = params.dims[u32(d)];
    let c = rest % size;
    rest = rest / size;
    if (u32(d) == axis) { ca = c; } else { off += c * params.dims[rank + u32(d)]; }
  }
  var raw: i32;
  if (MODE == 0u) { raw = index_at(i); } else { raw = index_at(ca); }
  let row = row_of(raw, params.axisLen);
  if (row < params.lo || row >= params.lo + params.count) { return NOT_HERE; }
  return off + (row - params.lo) * params.dims[rank + axis];
}
