// The norm kernels' shared pieces (norm_row.wgsl, norm_split.wgsl): the workgroup's Welford triples,
// Welford push and Chan merge, element addressing (SEG) and the affine parameters.
var<workgroup> sn: array<f32, WG>;
var<workgroup> sm: array<f32, WG>;
var<workgroup> sq: array<f32, WG>;

struct Wf { n: f32, m: f32, q: f32 }

fn wf_push(a: Wf, v: f32) -> Wf {
  let n = a.n + 1.0;
  let d = v - a.m;
  let m = a.m + d / n;
  return Wf(n, m, a.q + d * (v - m));
}

fn wf_merge(a: Wf, b: Wf) -> Wf {
  let n = a.n + b.n;
  if (b.n == 0.0) { return a; }
  if (a.n == 0.0) { return b; }
  let d = b.m - a.m;
  let f = b.n / n;
  return Wf(n, a.m + d * f, a.q + b.q + d * d * a.n * f);
}

fn addr(r: u32, j: u32) -> u32 {
  if (SEG == 0u) { return r * params[2] + j; }
  let sl = params[3];
  return r * params[2] + (j / sl) * params[4] + j % sl;
}

fn weight(a: u32) -> f32 {
  if ((params[7] & 1u) == 0u) { return 1.0; }
  return Wt[(a / params[5]) % params[6]];
}

fn bias(a: u32) -> f32 {
  if ((params[7] & 2u) == 0u) { return 0.0; }
  return C[(a / params[5]) % params[6]];
}
