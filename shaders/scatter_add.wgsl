// The adjoint of gather.wgsl: dst (zero-filled, the source's shape) += G at the gathered positions.
// One thread per element of G; WGSL has no f32 atomics, so each add is a compare-and-swap loop on
// the f32 bits. The order of the adds (hence the last bits of a repeated index's sum) may vary.
// MODE and the index conventions (wrap once, then clamp) are those of gather.wgsl.
const MODE: u32 = {{MODE}}u;

@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> IDX: array<{{IT}}>;
@group(0) @binding(2) var<storage, read_write> dst: array<atomic<u32>>;
// dst may be a range of the result: rows [lo, lo + count) along the axis (the axis is 0 then).
// #params GatherParams (src/ops/kernels/gather.ts)
@group(0) @binding(3) var<storage, read> params: Params;

// #include gather_index
// #include gather_offset

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  let v = G[i];
  let off = gathered_offset(i);
  if (v == 0.0 || off == NOT_HERE) { return; }
  var old = atomicLoad(&dst[off]);
  loop {
    let r = atomicCompareExchangeWeak(&dst[off], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}
