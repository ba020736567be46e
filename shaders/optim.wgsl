// In-place optimiser updates of one parameter tensor. MODE: 0 SGD (momentum), 1 Adam/AdamW, 2 sign step.
const MODE: u32 = {{MODE}}u;
@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;   // momentum / first moment (unused by sign)
@group(0) @binding(3) var<storage, read_write> v: array<f32>;   // second moment (Adam only)
// n, lr, beta1|momentum, beta2|dampening, eps, weightDecay, bias correction 1, bias correction 2, flags
// flags: bit0 decoupled weight decay (AdamW), bit1 nesterov, bit2 maximize, bit3 first step (SGD buffer init)
@group(0) @binding(4) var<storage, read> params: array<u32>;

fn f(i: u32) -> f32 { return bitcast<f32>(params[i]); }

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params[0]) { return; }
  let lr = f(1u);
  let wd = f(5u);
  let flags = params[8];
  var grad = g[i];
  if ((flags & 4u) != 0u) { grad = -grad; }
  var w = p[i];
  if ((flags & 1u) != 0u) {
    w = w * (1.0 - lr * wd);
  } else if (wd != 0.0) {
    grad = grad + wd * w;
  }
  if (MODE == 0u) {
    let mom = f(2u);
    var step = grad;
    if (mom != 0.0) {
      var buf = grad;
      if ((flags & 8u) == 0u) { buf = mom * m[i] + (1.0 - f(3u)) * grad; }
      m[i] = buf;
      step = select(buf, grad + mom * buf, (flags & 2u) != 0u);
    }
    p[i] = w - lr * step;
  } else if (MODE == 1u) {
    let b1 = f(2u);
    let b2 = f(3u);
    let mt = b1 * m[i] + (1.0 - b1) * grad;
    let vt = b2 * v[i] + (1.0 - b2) * grad * grad;
    m[i] = mt;
    v[i] = vt;
    p[i] = w - lr * (mt / f(6u)) / (sqrt(vt / f(7u)) + f(4u));
  } else {
    p[i] = w - lr * sign(grad);
  }
}
