// (module scope; the kernel defines WG) Two sums reduced across a workgroup at once (norm_param,
// norm_param_final): every invocation passes its pair, every one gets the totals.
var<workgroup> s1: array<f32, WG>;
var<workgroup> s2: array<f32, WG>;

fn pair_sums(v: vec2f, lid: u32) -> vec2f {
  s1[lid] = v.x;
  s2[lid] = v.y;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (lid < h) {
      s1[lid] = s1[lid] + s1[lid + h];
      s2[lid] = s2[lid] + s2[lid + h];
    }
    workgroupBarrier();
  }
  return vec2f(s1[0], s2[0]);
}
