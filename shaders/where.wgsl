// out[i] = cond[ic] != 0 ? a[ia] : b[ib], broadcasting as in binary.wgsl.
@group(0) @binding(0) var<storage, read> C: array<f32>;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
// #params BroadcastParams (src/ops/kernels/elementwise.ts): dims = shape, then the strides of C, A and B
@group(0) @binding(4) var<storage, read> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  let rank = params.rank;
  var rest = i;
  var off = vec3u(0u);
  for (var d = 0u; d < rank; d++) {
    let k = rank - 1u - d;
    let c = rest % params.dims[k];
    rest = rest / params.dims[k];
    off += c * vec3u(params.dims[rank + k], params.dims[2u * rank + k], params.dims[3u * rank + k]);
  }
  dst[i] = select(B[off.z], A[off.y], C[off.x] != 0.0);
}
