// Element offsets of two operands at flat index i of an iteration shape of `rank` dimensions:
// params.dims holds the shape, then the first operand's strides, then the second's (binary, strided_copy).
fn strided_offsets(i: u32, rank: u32) -> vec2u {
  var rest = i;
  var off = vec2u(0u);
  for (var d = i32(rank) - 1; d >= 0; d--) {
    let size = params.dims[u32(d)];
    let c = rest % size;
    rest = rest / size;
    off += c * vec2u(params.dims[rank + u32(d)], params.dims[2u * rank + u32(d)]);
  }
  return off;
}
