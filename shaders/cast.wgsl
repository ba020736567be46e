// Converts between storage types. FROM/TO: f32, i32, f16 (f16 is read and written as packed pairs).
@group(0) @binding(0) var<storage, read> src: array<{{SRC}}>;
@group(0) @binding(1) var<storage, read_write> dst: array<{{DST}}>;
// #params CastParams (src/ops/kernels/cast.ts)
@group(0) @binding(2) var<storage, read> params: Params;

fn load(i: u32) -> f32 { {{LOAD}} }

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  {{STORE}}
}
