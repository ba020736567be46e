import { beforeAll, describe, expect, it } from 'vitest';
import { BatchNorm2d, Conv2d, Dropout, Embedding, GroupNorm, LayerNorm, Linear, Sequential, ReLU } from '../../src/nn/layers.js';
import { fromArray, randn, sum, tidy, manualSeed } from '../../src/index.js';
import * as ref from '../../src/reference/index.js';
import { assertClose, setupGpu } from '../helpers/gpu.js';

beforeAll(async () => {
  await setupGpu();
  manualSeed(7);
});

const host = async (t: { toArray(): Promise<Float32Array | Int32Array>; shape: readonly number[] }) => ({
  shape: [...t.shape], data: Float64Array.from(await t.toArray()),
});

describe('nn layers', () => {
  it('Linear and Conv2d use PyTorch layouts and init bounds', async () => {
    const lin = new Linear(5, 3, { seed: 1 });
    expect(lin.weight.shape).toEqual([3, 5]);
    const w = await lin.weight.toArray();
    expect(Math.max(...Array.from(w, Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(5));
    const x = randn([2, 5], { seed: 2 });
    assertClose(await lin.forward(x).toArray(), ref.linear(await host(x), await host(lin.weight), await host(lin.bias!)).data, { atol: 1e-5 });
    const conv = new Conv2d(4, 6, 3, { padding: 1, groups: 2, seed: 3 });
    expect(conv.weight.shape).toEqual([6, 2, 3, 3]);
    const xi = randn([1, 4, 5, 5], { seed: 4 });
    const expected = ref.conv2d(await host(xi), await host(conv.weight), await host(conv.bias!), { padding: 1, groups: 2 });
    assertClose(await conv.forward(xi).toArray(), expected.data, { atol: 1e-4 });
    expect(() => new Conv2d(3, 4, 3, { groups: 2 })).toThrow(/groups 2 must divide/);
  });

  it('GroupNorm, LayerNorm and BatchNorm2d match the reference; BatchNorm updates running stats in training', async () => {
    const x = randn([2, 4, 3, 3], { seed: 5 });
    const gn = new GroupNorm(2, 4);
    assertClose(await gn.forward(x).toArray(), ref.groupNorm(await host(x), 2, null, null, 1e-5).data, { atol: 1e-4 });
    const ln = new LayerNorm([3, 3]);
    assertClose(await ln.forward(x).toArray(), ref.layerNorm(await host(x), [3, 3], null, null, 1e-5).data, { atol: 1e-4 });
    const bn = new BatchNorm2d(4);
    const rm = ref.nd([4]);
    const rv = ref.nd([4], [1, 1, 1, 1]);
    const expected = ref.batchNorm2d(await host(x), rm, rv, null, null, { training: true, eps: 1e-5, momentum: 0.1 });
    assertClose(await bn.forward(x).toArray(), expected.data, { atol: 1e-4 });
    assertClose(await bn.running_mean.toArray(), rm.data, { atol: 1e-5 });
    assertClose(await bn.running_var.toArray(), rv.data, { atol: 1e-5 });
    bn.eval();
    const inf = ref.batchNorm2d(await host(x), rm, rv, null, null, { training: false, eps: 1e-5 });
    assertClose(await bn.forward(x).toArray(), inf.data, { atol: 1e-4 });
  });

  it('Embedding looks rows up and accumulates gradients of repeated ids; Dropout is identity in eval', async () => {
    const emb = new Embedding(5, 2, { seed: 6 });
    const out = emb.forward([1, 3, 1]);
    expect(out.shape).toEqual([3, 2]);
    sum(out).backward();
    assertClose(await emb.weight.grad!.toArray(), [0, 0, 2, 2, 0, 0, 1, 1, 0, 0]);
    const d = new Dropout(0.5);
    const x = fromArray(new Float32Array(1000).fill(1));
    const y = d.forward(x, 1);
    const vals = await y.toArray();
    expect(vals.every((v) => v === 0 || v === 2)).toBe(true);
    d.eval();
    expect(d.forward(x)).toBe(x);
  });

  it('Sequential names children 0, 1, … and loads its own state dict strictly', async () => {
    const a = new Sequential([new Linear(3, 4, { seed: 1 }), new ReLU(), new Linear(4, 2, { seed: 2 })]);
    expect([...a.stateDict().keys()]).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    const b = new Sequential([new Linear(3, 4), new ReLU(), new Linear(4, 2)]);
    b.loadStateDict(a.stateDict());
    const x = randn([2, 3], { seed: 9 });
    assertClose(await b.forward(x).toArray(), await a.forward(x).toArray(), { atol: 0 });
    expect(() => new Sequential([new Linear(3, 5)]).loadStateDict(a.stateDict())).toThrow(/unexpected keys: 2\.weight, 2\.bias/);
    void tidy;
  });
});
