// (after gather_index) Element i of the gathered tensor (params: n, rank, axis, axisLen, shape[rank],
// stride[rank], lo, count) → its offset in the source range, or NOT_HERE when its row lies outside the
// rows [lo, lo + count) this dispatch's range holds.
const NOT_HERE: u32 = 0xffffffffu;

fn gathered_offset(i: u32) -> u32 {
  let rank = params[1];
  let axis = params[2];
  var rest = i;
  var off = 0u;
  var ca = 0u;
  for (var d = i32(rank) - 1; d >= 0; d--) {
    let size = params[4u + u32(d)];
    let c = rest % size;
    rest = rest / size;
    if (u32(d) == axis) { ca = c; } else { off += c * params[4u + rank + u32(d)]; }
  }
  var raw: i32;
  if (MODE == 0u) { raw = index_at(i); } else { raw = index_at(ca); }
  let row = row_of(raw, params[3]);
  let lo = params[4u + 2u * rank];
  if (row < lo || row >= lo + params[5u + 2u * rank]) { return NOT_HERE; }
  return off + (row - lo) * params[4u + rank + axis];
}
