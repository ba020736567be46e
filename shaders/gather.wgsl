// torch.gather (MODE 0) and index_select (MODE 1) along one axis: one thread per output element.
// MODE 0: out[c] = X[c with c[axis] := idx[c]]      (idx has out's shape, contiguous)
// MODE 1: out[c] = X[c with c[axis] := idx[c[axis]]] (idx is 1-D)
// Indices are wrapped once (-axisLen <= i < 0 counts from the end), then clamped to [0, axisLen).
const MODE: u32 = {{MODE}}u;

@group(0) @binding(0) var<storage, read> X: array<{{T}}>;
@group(0) @binding(1) var<storage, read> IDX: array<{{IT}}>;
@group(0) @binding(2) var<storage, read_write> dst: array<{{T}}>;
// n, rank, axis, axisLen, outShape[rank], xStride[rank], lo, count
// X may be a range of the source: rows [lo, lo + count) along the axis (the axis is 0 then); elements
// whose row lies outside are left to the dispatches of the other ranges.
@group(0) @binding(3) var<storage, read> params: array<u32>;

fn index_at(k: u32) -> i32 { return {{LOAD_IDX}}; }

fn row_of(raw: i32, len: u32) -> u32 {
  let r = select(raw, raw + i32(len), raw < 0);
  return u32(clamp(r, 0, i32(len) - 1));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params[0]) { return; }
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
  if (row < lo || row >= lo + params[5u + 2u * rank]) { return; }
  off += (row - lo) * params[4u + rank + axis];
  dst[i] = X[off];
}
