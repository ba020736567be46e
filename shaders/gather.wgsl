// torch.gather (MODE 0) and index_select (MODE 1) along one axis: one thread per output element.
// MODE 0: out[c] = X[c with c[axis] := idx[c]]      (idx has out's shape, contiguous)
// MODE 1: out[c] = X[c with c[axis] := idx[c[axis]]] (idx is 1-D)
// Indices are wrapped once (-axisLen <= i < 0 counts from the end), then clamped to [0, axisLen).
const MODE: u32 = {{MODE}}u;

@group(0) @binding(0) var<storage, read> X: array<{{T}}>;
@group(0) @binding(1) var<storage, read> IDX: array<{{IT}}>;
@group(0) @binding(2) var<storage, read_write> dst: array<{{T}}>;
// X may be a range of the source: rows [lo, lo + count) along the axis (the axis is 0 then); elements
// whose row lies outside are left to the dispatches of the other ranges.
// #params GatherParams (src/ops/kernels/gather.ts)
@group(0) @binding(3) var<storage, read> params: Params;

// #include gather_index
// #include gather_offset

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  let off = gathered_offset(i);
  if (off == NOT_HERE) { return; }
  dst[i] = X[off];
}
