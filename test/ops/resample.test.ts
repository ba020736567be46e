import { beforeAll, describe, expect, it } from 'vitest';
import {
  adaptiveAvgPool2d, avgPool2d, backward, fromArray, grad, interpolate, maxPool2d, mul, sum, tidy,
  type GpuContext, type InterpolateOptions, type Tensor,
} from '../../src/index.js';
import * as ref from '../../src/reference/index.ts';
import { loadOpFamily } from '../reference/fixture.ts';
import { assertClose, checkOp, nd, randomArray, setupGpu, up } from '../helpers/gpu.js';
import { parseCall, type PyValue } from '../helpers/pycall.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

describe('interpolate vs reference, forward and gradcheck', () => {
  const cases: Array<{ x: number[]; o: InterpolateOptions }> = [
    { x: [2, 3, 4, 5], o: { scaleFactor: 2, mode: 'nearest' } },
    { x: [1, 2, 4, 3], o: { scaleFactor: 3, mode: 'nearest' } },
    { x: [1, 2, 7, 9], o: { size: [3, 4], mode: 'nearest' } },
    { x: [1, 2, 5, 3], o: { size: [8, 7], mode: 'nearest' } },
    { x: [1, 2, 5, 4], o: { scaleFactor: [1.5, 0.5], mode: 'nearest' } },
    { x: [1, 2, 5, 6], o: { size: [7, 4], mode: 'nearest-exact' } },
    { x: [2, 2, 4, 5], o: { scaleFactor: 2, mode: 'bilinear' } },
    { x: [1, 2, 9, 11], o: { size: [4, 5], mode: 'bilinear' } },
    { x: [1, 2, 5, 4], o: { size: [8, 9], mode: 'bilinear', alignCorners: true } },
    { x: [1, 1, 6, 5], o: { size: [3, 1], mode: 'bilinear', alignCorners: true } },
    { x: [1, 2, 4, 6], o: { scaleFactor: 1.75, mode: 'bilinear' } },
    { x: [1, 2, 4, 6], o: { scaleFactor: 1.75, mode: 'bilinear', recomputeScaleFactor: true } },
    { x: [1, 1, 3, 3], o: { size: 3, mode: 'bilinear' } },
  ];
  for (const c of cases) {
    it(`${c.x.join('x')} ${JSON.stringify(c.o)}`, async () => {
      const o = c.o;
      await checkOp(
        `interpolate ${JSON.stringify(o)}`,
        (x) => interpolate(x, o),
        (x) => ref.interpolate(nd(x), {
          ...o, size: typeof o.size === 'number' ? [o.size, o.size] : (o.size as [number, number] | undefined),
          scaleFactor: o.scaleFactor as number | [number, number] | undefined, mode: o.mode ?? 'nearest',
        }),
        [randomArray(c.x, 3)],
        { atol: 1e-5, rtol: 1e-5 },
      );
    });
  }

  it('double backward: the input gradient is differentiable in the output gradient', async () => {
    const o: InterpolateOptions = { size: [7, 5], mode: 'bilinear' };
    const x = fromArray(new Float32Array(2 * 4 * 3), [1, 2, 4, 3], { ctx, requiresGrad: true });
    const R = up(randomArray([1, 2, 7, 5], 4), true);
    const S = randomArray([1, 2, 4, 3], 5);
    const St = up(S);
    const L = tidy(() => {
      const [gx] = grad(sum(mul(interpolate(x, o), R)), [x], undefined, { createGraph: true });
      return sum(mul(gx!, St));
    });
    backward(L);
    // L = <Jᵀ R, S> = <R, J S>, so dL/dR = interpolate(S).
    const expected = ref.interpolate(nd(S), { size: [7, 5], mode: 'bilinear' });
    assertClose(await R.grad!.toArray(), expected.data, { atol: 1e-5, rtol: 1e-5 });
    for (const t of [x, R, St, L]) t.dispose();
  });

  it('errors name the op and the shape', () => {
    const x = fromArray(new Float32Array(16), [1, 1, 4, 4], { ctx });
    expect(() => interpolate(x, { mode: 'nearest' })).toThrow(/interpolate: give exactly one of size and scaleFactor \(input \[1, 1, 4, 4\]\)/);
    expect(() => interpolate(x, { size: 2, mode: 'nearest', alignCorners: false })).toThrow(/alignCorners only applies to bilinear/);
    expect(() => interpolate(fromArray([1, 2], [1, 2], { ctx }), { size: 2 })).toThrow(/interpolate: input \[1, 2\] must be 4-D/);
  });
});

// ---------------------------------------------------------------------------------------------
// PyTorch fixtures: every case of test/fixtures/ops/resample.json (fails if the file is missing).

type Pair = number | [number, number];
const opt = (v: PyValue | undefined) => (v === undefined || v === null ? undefined : (v as Pair));

/** Runs one parsed fixture call on the GPU; positional arguments after the tensor follow torch's order. */
function runCall(fn: string, x: Tensor, args: PyValue[], kw: Record<string, PyValue>): Tensor {
  const a = (i: number, name: string) => opt(kw[name] ?? args[i]);
  switch (fn) {
    case 'interpolate':
      return interpolate(x, {
        size: a(1, 'size'),
        scaleFactor: a(2, 'scale_factor'),
        mode: ((kw.mode ?? args[3] ?? 'nearest') as InterpolateOptions['mode']),
        alignCorners: (kw.align_corners ?? undefined) as boolean | undefined,
      });
    case 'avg_pool2d':
      return avgPool2d(x, a(1, 'kernel_size')!, a(2, 'stride'), a(3, 'padding') ?? 0, {
        ceilMode: (kw.ceil_mode ?? args[4]) as boolean | undefined,
        countIncludePad: (kw.count_include_pad ?? args[5]) as boolean | undefined,
      });
    case 'max_pool2d':
      return maxPool2d(x, a(1, 'kernel_size')!, a(2, 'stride'), a(3, 'padding') ?? 0, {
        dilation: a(4, 'dilation'), ceilMode: (kw.ceil_mode ?? args[5]) as boolean | undefined,
      });
    case 'adaptive_avg_pool2d':
      return adaptiveAvgPool2d(x, a(1, 'output_size')!);
    default:
      throw new Error(`unhandled fixture function ${fn}`);
  }
}

describe('PyTorch fixtures (test/fixtures/ops/resample.json)', () => {
  const { meta, tensors } = loadOpFamily('resample');
  it('has cases', () => expect(Object.keys(meta.cases).length).toBeGreaterThan(0));
  for (const [name, c] of Object.entries(meta.cases)) {
    it(`${name}: ${c.call}`, async () => {
      const { fn, args, kw } = parseCall(c.call);
      const get = (n: string) => {
        const t = tensors.get(`${name}.${n}`);
        if (!t) throw new Error(`fixture ${name}.${n} missing`);
        return t;
      };
      const first = args[0];
      if (!first || typeof first !== 'object' || !('tensor' in first)) throw new Error(`${c.call}: first argument is not a tensor`);
      const x = up(get(first.tensor), true);
      const y = runCall(fn, x, args, kw);
      const tol = { atol: c.atol, rtol: c.rtol };
      const out = get('out');
      expect(y.shape).toEqual(out.shape);
      assertClose(await y.toArray(), out.data, tol, `${name} out`);
      backward(y, up(get('R')));
      assertClose(await x.grad!.toArray(), get(`grad_${first.tensor}`).data, tol, `${name} grad_${first.tensor}`);
      x.dispose();
      y.dispose();
    });
  }
});
