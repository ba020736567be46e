// Deterministic adjoint of index_select (gather.wgsl MODE 1): one thread per element of the source's
// shape [outer, axisLen, inner] sums, in index order, the rows of G [outer, m, inner] whose index
// (wrapped once, then clamped, as gather.wgsl) lands on it. No atomics; cost ~ m reads of IDX per thread.
@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> IDX: array<{{IT}}>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
// dst holds rows [lo, lo + count) of the axis (a range of the result when it is too large for one
// binding; the axis is 0 then).
// #params IndexAddParams (src/ops/kernels/gather.ts)
@group(0) @binding(3) var<storage, read> params: Params;

// #include gather_index

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  let len = params.axisLen;
  let m = params.m;
  let inner = params.inner;
  let lo = params.lo;
  let count = params.count;
  let k = i % inner;
  let j = lo + (i / inner) % count;
  let outer = i / (inner * count);
  let gBase = outer * m * inner + k;
  var acc = 0.0;
  for (var t = 0u; t < m; t++) {
    if (row_of(index_at(t), len) == j) { acc += G[gBase + t * inner]; }
  }
  dst[i] = acc;
}
