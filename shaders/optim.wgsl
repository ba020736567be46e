// In-place optimiser updates of one parameter tensor. MODE: 0 SGD (momentum), 1 Adam/AdamW, 2 sign step,
// 3 exponential moving average of the parameter into m (m = b1·m + (1 − b1)·w; w and g untouched).
const MODE: u32 = {{MODE}}u;
@group(0) @binding(0) var<storage, read_write> w: array<f32>;   // the parameter
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;   // momentum / first moment (unused by sign)
@group(0) @binding(3) var<storage, read_write> v: array<f32>;   // second moment (Adam only)
// #params OptimParams (src/ops/kernels/optim.ts)
// flags: bit0 decoupled weight decay (AdamW), bit1 nesterov, bit2 maximize, bit3 first step (SGD buffer init)
@group(0) @binding(4) var<storage, read> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  if (MODE == 3u) {
    m[i] = params.b1 * m[i] + (1.0 - params.b1) * w[i];
    return;
  }
  let lr = params.lr;
  let wd = params.weightDecay;
  let flags = params.flags;
  var grad = g[i];
  if ((flags & 4u) != 0u) { grad = -grad; }
  var x = w[i];
  if ((flags & 1u) != 0u) {
    x = x * (1.0 - lr * wd);
  } else if (wd != 0.0) {
    grad = grad + wd * x;
  }
  if (MODE == 0u) {
    let mom = params.b1;
    var step = grad;
    if (mom != 0.0) {
      var buf = grad;
      if ((flags & 8u) == 0u) { buf = mom * m[i] + (1.0 - params.b2) * grad; }
      m[i] = buf;
      step = select(buf, grad + mom * buf, (flags & 2u) != 0u);
    }
    w[i] = x - lr * step;
  } else if (MODE == 1u) {
    let b1 = params.b1;
    let b2 = params.b2;
    let mt = b1 * m[i] + (1.0 - b1) * grad;
    let vt = b2 * v[i] + (1.0 - b2) * grad * grad;
    m[i] = mt;
    v[i] = vt;
    w[i] = x - lr * (mt / params.bc1) / (sqrt(vt / params.bc2) + params.eps);
  } else {
    w[i] = x - lr * sign(grad);
  }
}
