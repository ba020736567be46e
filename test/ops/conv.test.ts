import { beforeAll, describe, expect, it } from 'vitest';
import {
  backward, conv2d, conv2dInputGrad, conv2dWeightGrad, convTranspose2d, fromArray, grad, mul, sum, tidy, withFlags, CONV_TILES, zeros,
  type ConvAlgo, type Conv2dOptions, type ConvTranspose2dOptions, type GpuContext, type HostArray, type Tensor,
} from '../../src/index.js';
import * as ref from '../../src/reference/index.ts';
import { loadOpFamily } from '../reference/fixture.ts';
import { parseCall, type PyValue } from '../helpers/pycall.js';
import { assertClose, checkOp, nd, precompileForFile, randomArray, setupGpu, up } from '../helpers/gpu.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

/** Four-sided padding as [top, bottom, left, right]. */
function pads(p: Conv2dOptions['padding']): [number, number, number, number] {
  if (p === undefined) return [0, 0, 0, 0];
  if (typeof p === 'number') return [p, p, p, p];
  return p.length === 2 ? [p[0], p[0], p[1], p[1]] : [p[0], p[1], p[2], p[3]];
}
const two = (v: number | readonly number[] | undefined, d: number): [number, number] => (
  v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : [v[0], v[1]]
);

/** Reference vjps of conv2d by direct loops: dL/dx and dL/dw for L = sum(conv2d(x, w) · R). */
function refConvGrads(x: HostArray, w: HostArray, R: HostArray, o: Conv2dOptions): { gx: Float64Array; gw: Float64Array } {
  const [N, C, H, W] = x.shape;
  const [Co, Cg, KH, KW] = w.shape;
  const [, , OH, OW] = R.shape;
  const G = o.groups ?? 1;
  const [sh, sw] = two(o.stride, 1);
  const [dh, dw] = two(o.dilation, 1);
  const [pt, , pl] = pads(o.padding);
  const gx = new Float64Array(x.data.length);
  const gw = new Float64Array(w.data.length);
  const Mg = Co / G;
  for (let n = 0; n < N; n++) for (let co = 0; co < Co; co++) {
    const g = Math.floor(co / Mg);
    for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
      const r = R.data[((n * Co + co) * OH + oh) * OW + ow];
      for (let c = 0; c < Cg; c++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
        const ih = oh * sh - pt + kh * dh;
        const iw = ow * sw - pl + kw * dw;
        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
        const xi = ((n * C + g * Cg + c) * H + ih) * W + iw;
        const wi = ((co * Cg + c) * KH + kh) * KW + kw;
        gx[xi] += r * w.data[wi];
        gw[wi] += r * x.data[xi];
      }
    }
  }
  return { gx, gw };
}

interface ConvCase { name: string; x: number[]; w: number[]; bias: boolean; o: Conv2dOptions }
const CASES: ConvCase[] = [
  { name: '3x3 s1 p1', x: [2, 3, 7, 6], w: [5, 3, 3, 3], bias: true, o: { padding: 1 } },
  { name: '3x3 s2 p1 odd', x: [1, 4, 9, 7], w: [6, 4, 3, 3], bias: true, o: { stride: 2, padding: 1 } },
  {
    name: '3x2 stride [2,1] dilation [1,2] pad [1,2]', x: [1, 3, 8, 9], w: [4, 3, 3, 2], bias: false,
    o: { stride: [2, 1], dilation: [1, 2], padding: [1, 2] },
  },
  { name: 'asymmetric padding [0,1,1,0] s2', x: [2, 2, 6, 5], w: [3, 2, 3, 3], bias: true, o: { stride: 2, padding: [0, 1, 1, 0] } },
  { name: 'groups 2, 1x1', x: [2, 4, 5, 3], w: [6, 2, 1, 1], bias: true, o: { groups: 2 } },
  { name: 'groups 3, 3x3 s2 dil 2', x: [1, 6, 9, 8], w: [9, 2, 3, 3], bias: true, o: { groups: 3, stride: 2, padding: 2, dilation: 2 } },
  { name: 'depthwise 3x3', x: [2, 4, 6, 5], w: [4, 1, 3, 3], bias: true, o: { groups: 4, padding: 1 } },
  { name: 'depthwise multiplier 2, 5x5 s2', x: [1, 3, 9, 9], w: [6, 1, 5, 5], bias: false, o: { groups: 3, stride: 2, padding: 2 } },
  { name: '7x7 s2 p3 stem', x: [1, 3, 11, 10], w: [4, 3, 7, 7], bias: false, o: { stride: 2, padding: 3 } },
  { name: '1x1 pointwise, 2 images', x: [2, 5, 4, 3], w: [6, 5, 1, 1], bias: true, o: {} },
  { name: '1x1 pointwise, 1 image', x: [1, 7, 3, 5], w: [4, 7, 1, 1], bias: false, o: {} },
];

// The GEMM kernels (the GPUs' path, forced here; CPU adapters use them only for grouped strided input gradients),
// compiled before this file's tests for every mode and tile they use (see precompileForFile).
precompileForFile(() => {
  const tiles = [null, CONV_TILES.tall, CONV_TILES.small, CONV_TILES.wide];
  for (const tile of tiles) {
    withFlags({ 'conv.algo': 'gemm', 'conv.tile': tile }, () => {
      for (const c of [CASES[0], CASES[1]]) {
        const x = zeros(c.x).requiresGrad_();
        backward(sum(conv2d(x, zeros(c.w).requiresGrad_(), zeros([c.w[0]]).requiresGrad_(), c.o)));
      }
    });
  }
});

describe('conv2d vs reference, forward and gradcheck of x, w, b', () => {
  for (const algo of ['gemm', 'regs', 'rows', 'direct', 'matmul'] as ConvAlgo[]) {
    for (const c of CASES) {
      it(`${c.name} (${algo})`, () => withFlags({ 'conv.algo': algo }, async () => {
        const x = randomArray(c.x, 11);
        const w = randomArray(c.w, 12, -0.5, 0.5);
        const inputs = c.bias ? [x, w, randomArray([c.w[0]], 13)] : [x, w];
        await checkOp(
          `conv2d ${c.name}`,
          (...t) => conv2d(t[0], t[1], t[2] ?? null, c.o),
          (...a) => ref.conv2d(nd(a[0]), nd(a[1]), a[2] ? nd(a[2]) : null, c.o as ref.Conv2dOptions),
          inputs,
          { atol: 1e-4, rtol: 1e-4 },
        );
      }));
    }
  }
});

describe('conv2d GEMM tiles: several tiles, ragged M / N / K edges', () => {
  // Tiles forced where a case is named for one: CPU adapters would otherwise take the square tile for all.
  const big: Array<ConvCase & { split?: number; rows?: 'forward' | 'both'; tile?: keyof typeof CONV_TILES }> = [
    { name: 'M 70, K 180 (tall tile)', x: [2, 20, 11, 13], w: [70, 20, 3, 3], bias: true, o: { padding: 1 }, tile: 'tall' },
    { name: 'M 20 s2 (small tile)', x: [3, 9, 13, 10], w: [20, 9, 3, 3], bias: true, o: { stride: 2, padding: [1, 0] }, tile: 'small' },
    { name: 'groups 2, M 50 each, 1x1', x: [2, 16, 9, 9], w: [100, 8, 1, 1], bias: false, o: { groups: 2 } },
    { name: '64x128 tile: M 64, N 512', x: [2, 8, 16, 16], w: [64, 8, 3, 3], bias: true, o: { padding: 1 }, tile: 'wide' },
    { name: 'vec4 weight loads: forward K 36, dgrad K 72', x: [2, 4, 7, 9], w: [8, 4, 3, 3], bias: true, o: { padding: 1 } },
    { name: 'split-K 3, M 70, K 180', x: [2, 20, 11, 13], w: [70, 20, 3, 3], bias: true, o: { padding: 1 }, split: 3 },
    { name: 'split-K 4, groups 2, s2', x: [1, 12, 9, 10], w: [40, 6, 3, 3], bias: true, o: { stride: 2, padding: 1, groups: 2 }, split: 4 },
    { name: 'vec4 dy loads (OH·OW % 4 = 0), split-K 5, 20 rows', x: [3, 6, 8, 6], w: [20, 6, 3, 3], bias: false, o: { padding: 1 }, split: 5 },
    // Row-kernel geometries (W % 4 = 0, output as wide as the input): subgroups spanning several rows,
    // rows wider than a subgroup (end lanes load their neighbours), asymmetric 4-column kernels,
    // vertical stride and dilation (forward only), groups, 1x1, depthwise, ragged last subgroup.
    { name: 'rows: W 8, a subgroup spans 4 rows, M 7', x: [2, 5, 6, 8], w: [7, 5, 3, 3], bias: true, o: { padding: 1 }, rows: 'both' },
    { name: 'rows: W 40, subgroup ends mid-row, ragged N', x: [1, 3, 5, 40], w: [6, 3, 3, 3], bias: true, o: { padding: 1 }, rows: 'both' },
    { name: 'rows: 3x4 kernel, padding [0, 2, 2, 1]', x: [2, 2, 5, 12], w: [4, 2, 3, 4], bias: false, o: { padding: [0, 2, 2, 1] }, rows: 'both' },
    {
      name: 'rows: stride [2, 1], dilation [2, 1]', x: [1, 3, 9, 8], w: [5, 3, 3, 3], bias: true,
      o: { stride: [2, 1], dilation: [2, 1], padding: [2, 1] }, rows: 'forward',
    },
    { name: 'rows: groups 2', x: [2, 4, 5, 8], w: [6, 2, 3, 3], bias: true, o: { groups: 2, padding: 1 }, rows: 'both' },
    { name: 'rows: 1x1', x: [2, 6, 3, 4], w: [5, 6, 1, 1], bias: true, o: {}, rows: 'both' },
    { name: 'pointwise on the matmul kernel: M 20, K 18, 3 images', x: [3, 18, 5, 6], w: [20, 18, 1, 1], bias: true, o: {} },
    { name: 'rows: depthwise 3x3', x: [1, 4, 4, 8], w: [4, 1, 3, 3], bias: true, o: { groups: 4, padding: 1 }, rows: 'both' },
    {
      name: 'OW % 4 = 0: weight-gradient decode carried across rows and images, splits start mid-row (split-K 7)',
      x: [3, 5, 5, 12], w: [12, 5, 3, 3], bias: true, o: { padding: 1 }, split: 7, rows: 'both',
    },
  ];
  const pointwise = (c: ConvCase) => c.w[2] === 1 && c.w[3] === 1 && !c.o.groups && !c.o.stride && !c.o.padding;
  for (const c of big) for (const algo of ['gemm', 'regs', 'rows', 'matmul'] as ConvAlgo[]) {
    if (algo === 'matmul' && !pointwise(c)) continue;
    it(`${c.name} (${algo})`, () => withFlags({
      'conv.algo': algo, 'conv.splitK': c.split ?? null, 'conv.tile': c.tile ? CONV_TILES[c.tile] : null,
    }, async () => {
      const x = randomArray(c.x, 21);
      const w = randomArray(c.w, 22, -0.3, 0.3);
      const b = randomArray([c.w[0]], 23);
      const xt = up(x, true);
      const wt = up(w, true);
      const bt = c.bias ? up(b, true) : null;
      const kernels: string[] = [];
      const dispatch = ctx.dispatch.bind(ctx);
      ctx.dispatch = (p, bufs, wg, name) => {
        if (name) kernels.push(name);
        dispatch(p, bufs, wg, name);
      };
      let y: Tensor;
      try {
        y = conv2d(xt, wt, bt, c.o);
      } finally {
        ctx.dispatch = dispatch;
      }
      const yr = ref.conv2d(nd(x), nd(w), c.bias ? nd(b) : null, c.o as ref.Conv2dOptions);
      expect(y.shape).toEqual(yr.shape);
      assertClose(await y.toArray(), yr.data, { atol: 1e-4, rtol: 1e-4 }, 'forward');
      const R = randomArray(yr.shape, 24);
      ctx.dispatch = (p, bufs, wg, name) => {
        if (name) kernels.push(name);
        dispatch(p, bufs, wg, name);
      };
      try {
        backward(y, up(R));
      } finally {
        ctx.dispatch = dispatch;
      }
      if (algo === 'rows' && c.rows) {
        expect(kernels).toContain('conv_rows[fwd]');
        if (c.rows === 'both') expect(kernels).toContain('conv_rows[dgrad]');
        expect(kernels).toContain('conv_rows[wgrad]');
      }
      if (algo !== 'rows') expect(kernels.some((k) => k.startsWith('conv_rows'))).toBe(false);
      if (algo === 'matmul') {
        expect(kernels).toContain('matmul');
        expect(kernels.filter((k) => /^conv_(rows|regs|gemm|direct)/.test(k))).toEqual([]);
      }
      const { gx, gw } = refConvGrads(x, w, R, c.o);
      assertClose(await xt.grad!.toArray(), gx, { atol: 1e-4, rtol: 1e-4 }, 'grad x');
      assertClose(await wt.grad!.toArray(), gw, { atol: 2e-4, rtol: 1e-4 }, 'grad w');
      if (bt) {
        const [n, co, oh, ow] = yr.shape;
        const gb = new Float64Array(co);
        for (let i = 0; i < n * co * oh * ow; i++) gb[Math.floor(i / (oh * ow)) % co] += R.data[i];
        assertClose(await bt.grad!.toArray(), gb, { atol: 1e-4, rtol: 1e-4 }, 'grad b');
      }
      for (const t of [xt, wt, bt, y]) t?.dispose();
    }));
  }
});

describe('convTranspose2d vs reference, forward and gradcheck', () => {
  const cases: Array<{ name: string; x: number[]; w: number[]; bias: boolean; o: ConvTranspose2dOptions }> = [
    { name: 's2 p1 op1', x: [2, 4, 4, 3], w: [4, 3, 3, 3], bias: true, o: { stride: 2, padding: 1, outputPadding: 1 } },
    { name: 's1 p0 4x4', x: [1, 3, 5, 4], w: [3, 2, 4, 4], bias: false, o: {} },
    { name: 's2 k2 (2x upsampler)', x: [1, 5, 3, 4], w: [5, 3, 2, 2], bias: true, o: { stride: 2 } },
    { name: '1x1 s1 (pointwise: the matmul kernel on CPU adapters)', x: [2, 4, 3, 5], w: [4, 6, 1, 1], bias: true, o: {} },
    {
      name: 'groups 2, s [2,3], dilation 2', x: [1, 4, 3, 3], w: [4, 2, 3, 3], bias: true,
      o: { stride: [2, 3], padding: [1, 0], dilation: 2, groups: 2, outputPadding: [1, 2] },
    },
  ];
  for (const algo of ['gemm', 'regs', 'direct', 'matmul'] as ConvAlgo[]) {
    for (const c of cases) {
      it(`${c.name} (${algo})`, () => withFlags({ 'conv.algo': algo }, async () => {
        const inputs = [randomArray(c.x, 31), randomArray(c.w, 32, -0.5, 0.5), ...(c.bias ? [randomArray([c.w[1] * (c.o.groups ?? 1)], 33)] : [])];
        await checkOp(
          `convTranspose2d ${c.name}`,
          (...t) => convTranspose2d(t[0], t[1], t[2] ?? null, c.o),
          (...a) => ref.convTranspose2d(nd(a[0]), nd(a[1]), a[2] ? nd(a[2]) : null, c.o as ref.ConvTranspose2dOptions),
          inputs,
          { atol: 1e-4, rtol: 1e-4 },
        );
      }));
    }
  }
});

describe('conv2d input and weight gradients as differentiable ops (double backward)', () => {
  const o: Conv2dOptions = { stride: 2, padding: [1, 0, 1, 1], dilation: [1, 2], groups: 2 };
  const xs = [1, 4, 7, 8];
  const ws = [6, 2, 3, 2];
  const ys = ref.conv2d(nd(randomArray(xs, 1)), nd(randomArray(ws, 2)), null, o as ref.Conv2dOptions).shape;
  for (const algo of ['gemm', 'regs', 'direct'] as ConvAlgo[]) {
    it(`conv2dWeightGrad(x, dy): forward and gradcheck of x and dy (${algo})`, () => withFlags({ 'conv.algo': algo }, async () => {
      await checkOp(
        'conv2dWeightGrad',
        (x, dy) => conv2dWeightGrad(x, ws, dy, o),
        (x, dy) => ({ shape: ws, data: refConvGrads(x, { shape: ws, data: new Float64Array(ws.reduce((a, b) => a * b)) }, dy, o).gw }),
        [randomArray(xs, 41), randomArray(ys, 42)],
        { atol: 1e-4, rtol: 1e-4 },
      );
    }));
    it(`conv2dInputGrad(dy, w): forward and gradcheck of dy and w (${algo})`, () => withFlags({ 'conv.algo': algo }, async () => {
      await checkOp(
        'conv2dInputGrad',
        (dy, w) => conv2dInputGrad(xs, w, dy, o),
        (dy, w) => ({ shape: xs, data: refConvGrads({ shape: xs, data: new Float64Array(xs.reduce((a, b) => a * b)) }, w, dy, o).gx }),
        [randomArray(ys, 43), randomArray(ws, 44)],
        { atol: 1e-4, rtol: 1e-4 },
      );
    }));
  }

  it('grad of (sum of squared input gradient) w.r.t. w through createGraph matches finite differences', async () => {
    // L(w) = Σ (∂/∂x Σ conv(x, w)·R)² = Σ D(R, w)²; dL/dw needs the vjp of the input-gradient op.
    const x = randomArray(xs, 51);
    const w = randomArray(ws, 52);
    const R = randomArray(ys, 53);
    const xt = up(x, true);
    const wt = up(w, true);
    const Rt = up(R);
    const L = tidy(() => {
      const y = conv2d(xt, wt, null, o);
      const [gx] = grad(sum(mul(y, Rt)), [xt], undefined, { createGraph: true });
      return sum(mul(gx!, gx!));
    });
    backward(L);
    const analytic = await wt.grad!.toArray();
    const lossOf = (wd: Float64Array) => {
      const { gx } = refConvGrads(x, { shape: ws, data: wd }, R, o);
      return gx.reduce((s, v) => s + v * v, 0);
    };
    const eps = 1e-6;
    const numeric = Array.from(w.data, (_, j) => {
      const p = Float64Array.from(w.data);
      const m = Float64Array.from(w.data);
      p[j] += eps;
      m[j] -= eps;
      return (lossOf(p) - lossOf(m)) / (2 * eps);
    });
    assertClose(analytic, numeric, { atol: 2e-3, rtol: 2e-3 }, 'd/dw of |dL/dx|²');
    for (const t of [xt, wt, Rt, L]) t.dispose();
  });
});

// ---------------------------------------------------------------------------------------------
// PyTorch fixtures: every case of test/fixtures/ops/conv.json (the test fails if the file is missing).

const opt = (v: PyValue | undefined) => (v === undefined || v === null ? undefined : (v as number | [number, number]));

describe('PyTorch fixtures (test/fixtures/ops/conv.json)', () => {
  const { meta, tensors } = loadOpFamily('conv');
  it('has cases', () => expect(Object.keys(meta.cases).length).toBeGreaterThan(0));
  for (const [name, c] of Object.entries(meta.cases)) {
    it(`${name}: ${c.call}`, async () => {
      const { fn, args, kw } = parseCall(c.call);
      const get = (n: string) => {
        const t = tensors.get(`${name}.${n}`);
        if (!t) throw new Error(`fixture ${name}.${n} missing`);
        return t;
      };
      const names = args.filter((a): a is { tensor: string } => a !== null && typeof a === 'object' && 'tensor' in a).map((a) => a.tensor);
      const hosts = Object.fromEntries(names.map((n) => [n, get(n)]));
      const ts = Object.fromEntries(names.map((n) => [n, up(hosts[n], true)]));
      const arg = (i: number) => {
        const a = args[i];
        return a && typeof a === 'object' && 'tensor' in a ? ts[a.tensor] : null;
      };
      let y: Tensor;
      if (fn === 'conv2d') {
        y = conv2d(arg(0)!, arg(1)!, arg(2), {
          stride: opt(kw.stride), padding: opt(kw.padding), dilation: opt(kw.dilation), groups: opt(kw.groups) as number | undefined,
        });
      } else if (fn === 'conv_transpose2d') {
        y = convTranspose2d(arg(0)!, arg(1)!, arg(2), {
          stride: opt(kw.stride), padding: opt(kw.padding), outputPadding: opt(kw.output_padding), dilation: opt(kw.dilation),
          groups: opt(kw.groups) as number | undefined,
        });
      } else {
        throw new Error(`unhandled fixture call ${c.call}`);
      }
      const tol = { atol: c.atol, rtol: c.rtol };
      const out = get('out');
      expect(y.shape).toEqual(out.shape);
      assertClose(await y.toArray(), out.data, tol, `${name} out`);
      backward(y, up(get('R')));
      for (const n of names) {
        assertClose(await ts[n].grad!.toArray(), get(`grad_${n}`).data, tol, `${name} grad_${n}`);
      }
      for (const t of [...Object.values(ts), y]) t.dispose();
    });
  }
});

describe('argument errors name the op and the shapes', () => {
  const z = (shape: number[]) => fromArray(new Float32Array(shape.reduce((a, b) => a * b)), shape, { ctx });
  it('channel mismatch', () => {
    expect(() => conv2d(z([1, 3, 5, 5]), z([4, 2, 3, 3]))).toThrow(/conv2d: input \[1, 3, 5, 5\] and weight \[4, 2, 3, 3\].*3 channels.*expects 2/);
  });
  it('groups not dividing channels', () => {
    expect(() => conv2d(z([1, 4, 5, 5]), z([6, 2, 3, 3]), null, { groups: 3 })).toThrow(/conv2d: input \[1, 4, 5, 5\] and weight \[6, 2, 3, 3\]: groups 3 does not divide the 4 input/);
    expect(() => conv2d(z([1, 4, 5, 5]), z([5, 2, 3, 3]), null, { groups: 2 })).toThrow(/groups 2 does not divide the 5 output/);
  });
  it('bias, rank, kernel too large, transposed weight', () => {
    expect(() => conv2d(z([1, 3, 5, 5]), z([4, 3, 3, 3]), z([3]))).toThrow(/conv2d: bias \[3\] must be \[4\]/);
    expect(() => conv2d(z([3, 5, 5]), z([4, 3, 3, 3]))).toThrow(/conv2d: input \[3, 5, 5\] and weight \[4, 3, 3, 3\] must both be 4-D/);
    expect(() => conv2d(z([1, 3, 2, 2]), z([4, 3, 3, 3]))).toThrow(/conv2d: input \[1, 3, 2, 2\] and weight \[4, 3, 3, 3\]: the output would be 0x0/);
    expect(() => convTranspose2d(z([1, 3, 5, 5]), z([4, 3, 3, 3]))).toThrow(/convTranspose2d: input \[1, 3, 5, 5\] and weight \[4, 3, 3, 3\]: the input has 3 channels/);
    expect(() => convTranspose2d(z([1, 4, 5, 5]), z([4, 3, 3, 3]), null, { stride: 2, outputPadding: 2 })).toThrow(/outputPadding/);
  });
});
