// out[i] = cond[ic] != 0 ? a[ia] : b[ib], broadcasting as in binary.wgsl.
@group(0) @binding(0) var<storage, read> C: array<f32>;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
// n, rank, shape[rank], cStride[rank], aStride[rank], bStride[rank]
@group(0) @binding(4) var<storage, read> params: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  let n = params[0];
  if (i >= n) { return; }
  let rank = params[1];
  var rest = i;
  var ic = 0u;
  var ia = 0u;
  var ib = 0u;
  for (var d = i32(rank) - 1; d >= 0; d--) {
    let size = params[2u + u32(d)];
    let c = rest % size;
    rest = rest / size;
    ic += c * params[2u + rank + u32(d)];
    ia += c * params[2u + 2u * rank + u32(d)];
    ib += c * params[2u + 3u * rank + u32(d)];
  }
  dst[i] = select(B[ib], A[ia], C[ic] != 0.0);
}
