// (after IDX and params) Index reading for gather.wgsl, scatter_add.wgsl and scatter_index.wgsl: indices
// wrapped once (-axisLen <= i < 0 counts from the end), then clamped to [0, axisLen).
fn index_at(k: u32) -> i32 { return {{LOAD_IDX}}; }

fn row_of(raw: i32, len: u32) -> u32 {
  let r = select(raw, raw + i32(len), raw < 0);
  return u32(clamp(r, 0, i32(len) - 1));
}
