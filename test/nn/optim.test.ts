import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, AdamW, SGD, SignSGD, clipGradNorm, emaUpdate, projectInPlace } from '../../src/nn/optim.js';
import { fromArray, mul, sum, tensor, tidy, type Tensor } from '../../src/index.js';
import { assertClose, setupGpu } from '../helpers/gpu.js';

beforeAll(async () => {
  await setupGpu();
});

/** Sets p.grad to the given values (as if from backward). */
function setGrad(p: Tensor, g: number[]): void {
  p.grad?.dispose();
  p.grad = fromArray(g, p.shape);
}

/** torch.optim reference updates in f64, written out from the PyTorch docs' pseudo-code. */
function adamRef(
  p: number[], grads: number[][], { lr, b1, b2, eps, wd, decoupled }: { lr: number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean },
) {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const w = [...p];
  grads.forEach((g0, t) => {
    for (let i = 0; i < w.length; i++) {
      let g = g0[i];
      if (decoupled) w[i] *= 1 - lr * wd;
      else g += wd * w[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const mh = m[i] / (1 - b1 ** (t + 1));
      const vh = v[i] / (1 - b2 ** (t + 1));
      w[i] -= (lr * mh) / (Math.sqrt(vh) + eps);
    }
  });
  return w;
}

const grads = [[0.5, -1, 2], [0.1, 0.3, -0.7], [-0.2, 0.9, 0.05]];

describe('optimisers', () => {
  it('Adam matches the reference update over 3 steps (with L2 weight decay)', async () => {
    const p = tensor([1, -2, 0.5]).requiresGrad_();
    const opt = new Adam([p], { lr: 0.1, weightDecay: 0.01 });
    for (const g of grads) {
      setGrad(p, g);
      opt.step();
    }
    assertClose(await p.toArray(), adamRef([1, -2, 0.5], grads, { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.01, decoupled: false }), { atol: 1e-6 });
  });

  it('AdamW decouples weight decay', async () => {
    const p = tensor([1, -2, 0.5]).requiresGrad_();
    const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.1 });
    for (const g of grads) {
      setGrad(p, g);
      opt.step();
    }
    assertClose(await p.toArray(), adamRef([1, -2, 0.5], grads, { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1, decoupled: true }), { atol: 1e-6 });
  });

  it('SGD with momentum and nesterov matches torch.optim.SGD', async () => {
    const p = tensor([1, -2, 0.5]).requiresGrad_();
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true });
    const w = [1, -2, 0.5];
    const buf = [0, 0, 0];
    grads.forEach((g, t) => {
      setGrad(p, g);
      opt.step();
      for (let i = 0; i < 3; i++) {
        buf[i] = t === 0 ? g[i] : 0.9 * buf[i] + g[i];
        w[i] -= 0.1 * (g[i] + 0.9 * buf[i]);
      }
    });
    assertClose(await p.toArray(), w, { atol: 1e-6 });
  });

  it('sign steps ascend with maximize, and projection keeps an L∞ ball and a box', async () => {
    const p = tensor([0, 0, 0]).requiresGrad_();
    const center = tensor([0, 0, 0]);
    const opt = new SignSGD([p], { lr: 0.3, maximize: true });
    for (let i = 0; i < 3; i++) {
      setGrad(p, [1, -1, 0.001]);
      opt.step();
      projectInPlace(p, { lo: -0.5, hi: 2, center, radius: 0.7 });
    }
    assertClose(await p.toArray(), [0.7, -0.5, 0.7], { atol: 1e-6 });
  });

  it('zeroGrad drops gradients and training reduces a loss', async () => {
    const w = tensor([3, -1]).requiresGrad_();
    const target = tensor([1, 2]);
    const opt = new Adam([w], { lr: 0.2 });
    const lossOf = () => tidy(() => { const d = w.sub(target); return sum(mul(d, d)); });
    const first = await lossOf().item();
    for (let i = 0; i < 30; i++) {
      opt.zeroGrad();
      const l = lossOf();
      l.backward();
      l.dispose();
      opt.step();
    }
    opt.zeroGrad();
    expect(w.grad).toBeNull();
    expect(await lossOf().item()).toBeLessThan(first * 0.05);
  });

  it('clipGradNorm scales to maxNorm on the GPU and returns the old norm', async () => {
    const a = tensor([3, 0]).requiresGrad_();
    const b = tensor([0, 4]).requiresGrad_();
    setGrad(a, [3, 0]);
    setGrad(b, [0, 4]);
    const norm = clipGradNorm([a, b], 1);
    expect(await norm.item()).toBeCloseTo(5, 5);
    assertClose(await a.grad!.toArray(), [0.6, 0], { atol: 1e-6 });
    assertClose(await b.grad!.toArray(), [0, 0.8], { atol: 1e-6 });
  });

  it('emaUpdate: ema = d·ema + (1 − d)·p for every pair, the parameters untouched; shapes checked', async () => {
    const p = [fromArray([1, 2, 3], [3]), fromArray([4, -4], [2, 1])];
    const ema = [fromArray([0, 0, 0], [3]), fromArray([1, 1], [2, 1])];
    emaUpdate(ema, p, 0.9);
    emaUpdate(ema, p, 0.9);
    const twice = (e: number, x: number) => 0.9 * (0.9 * e + 0.1 * x) + 0.1 * x;
    assertClose(await ema[0].toArray(), [twice(0, 1), twice(0, 2), twice(0, 3)], { atol: 1e-6 });
    assertClose(await ema[1].toArray(), [twice(1, 4), twice(1, -4)], { atol: 1e-6 });
    assertClose(await p[1].toArray(), [4, -4], { atol: 0 });
    expect(() => emaUpdate([ema[0]], [p[1]], 0.9)).toThrow(/average 0 is \[3\], its parameter \[2,1\]/);
    expect(() => emaUpdate(ema, [p[0]], 0.9)).toThrow(/2 averages for 1 parameters/);
  });
});
