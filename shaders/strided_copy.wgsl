// For every coordinate c of an iteration shape: dst[dOff + c·dStride] = src[sOff + c·sStride].
// Covers broadcasting (stride 0), permutes, step slices, and writes into slices (concat, pad, slice vjp).
@group(0) @binding(0) var<storage, read> src: array<{{T}}>;
@group(0) @binding(1) var<storage, read_write> dst: array<{{T}}>;
// #params StridedCopyParams (src/ops/kernels/strided.ts)
@group(0) @binding(2) var<storage, read> params: Params;
// Entry main4: four elements per thread where the innermost axis is contiguous on both sides, its size
// a multiple of 4, and every other stride and both offsets multiples of 4 (head splits and merges).
// Entries gather4 / scatter4: the same where only the destination (gather4) or only the source
// (scatter4) is so contiguous — a transpose: four strided reads into one vec4 store, or one vec4 load
// into four strided writes, with one offset decode for the four.
@group(0) @binding(0) var<storage, read> src4: array<vec4<{{T}}>>;
@group(0) @binding(1) var<storage, read_write> dst4: array<vec4<{{T}}>>;

// #include strided_offsets

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  let o = strided_offsets(i, params.rank) + vec2u(params.srcOffset, params.dstOffset);
  dst[o.y] = src[o.x];
}

@compute @workgroup_size(256)
fn main4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n / 4u) { return; }
  let o = strided_offsets(4u * i, params.rank) + vec2u(params.srcOffset, params.dstOffset);
  dst4[o.y / 4u] = src4[o.x / 4u];
}

@compute @workgroup_size(256)
fn gather4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n / 4u) { return; }
  let o = strided_offsets(4u * i, params.rank) + vec2u(params.srcOffset, params.dstOffset);
  let s = params.dims[2u * params.rank - 1u];
  dst4[o.y / 4u] = vec4<{{T}}>(src[o.x], src[o.x + s], src[o.x + 2u * s], src[o.x + 3u * s]);
}

@compute @workgroup_size(256)
fn scatter4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n / 4u) { return; }
  let o = strided_offsets(4u * i, params.rank) + vec2u(params.srcOffset, params.dstOffset);
  let s = params.dims[3u * params.rank - 1u];
  let v = src4[o.x / 4u];
  dst[o.y] = v.x;
  dst[o.y + s] = v.y;
  dst[o.y + 2u * s] = v.z;
  dst[o.y + 3u * s] = v.w;
}
