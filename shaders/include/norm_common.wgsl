// The norm kernels' shared pieces (norm_row.wgsl, norm_split.wgsl): the workgroup's Welford triples,
// Welford push and Chan merge, their tree reduction, element addressing (SEG) and the affine parameters
// (NormParams, src/ops/norm.ts).
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

// Tree reduction of (sn, sm, sq): Welford merge (merge = true) or plain sums of sm and sq.
fn tree(lid: u32, merge: bool) {
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (lid < h) {
      if (merge) {
        let c = wf_merge(Wf(sn[lid], sm[lid], sq[lid]), Wf(sn[lid + h], sm[lid + h], sq[lid + h]));
        sn[lid] = c.n;
        sm[lid] = c.m;
        sq[lid] = c.q;
      } else {
        sm[lid] = sm[lid] + sm[lid + h];
        sq[lid] = sq[lid] + sq[lid + h];
      }
    }
    workgroupBarrier();
  }
}

fn addr(r: u32, j: u32) -> u32 {
  if (SEG == 0u) { return r * params.rowStride + j; }
  let sl = params.segLen;
  return r * params.rowStride + (j / sl) * params.segStride + j % sl;
}

fn weight(a: u32) -> f32 {
  if ((params.flags & 1u) == 0u) { return 1.0; }
  return Wt[(a / params.S) % params.P];
}

fn bias(a: u32) -> f32 {
  if ((params.flags & 2u) == 0u) { return 0.0; }
  return C[(a / params.S) % params.P];
}
