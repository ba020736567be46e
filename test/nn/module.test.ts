import { beforeAll, describe, expect, it } from 'vitest';
import { Module, StateDictError } from '../../src/nn/module.js';
import { fromArray, full, type Tensor } from '../../src/index.js';
import { assertClose, setupGpu } from '../helpers/gpu.js';

beforeAll(async () => {
  await setupGpu();
});

class Leafy extends Module {
  weight: Tensor;
  running: Tensor;
  constructor(n: number) {
    super();
    this.weight = this.param('weight', full([n, 2], 0.5));
    this.running = this.buffer('running', full([n], 0));
  }
}

class Tree extends Module {
  a = this.child('a', new Leafy(2));
  blocks = this.child('blocks', new (class extends Module {
    constructor() {
      super();
      this.child('0', new Leafy(3));
      this.child('1', new Leafy(1));
    }
  })());
}

describe('Module', () => {
  it('names parameters and buffers with dotted paths like PyTorch', () => {
    const m = new Tree();
    expect([...m.stateDict().keys()].sort()).toEqual(
      ['a.running', 'a.weight', 'blocks.0.running', 'blocks.0.weight', 'blocks.1.running', 'blocks.1.weight'].sort(),
    );
    expect(m.parameters().every((p) => p.requiresGrad)).toBe(true);
    expect(m.numParameters()).toBe(4 + 6 + 2);
  });

  it('loads a state dict strictly and reports every problem at once, changing nothing', async () => {
    const m = new Tree();
    const sd: Record<string, { shape: number[]; data: number[] }> = {
      'a.weight': { shape: [2, 2], data: [1, 2, 3, 4] },
      'a.running': { shape: [2], data: [7, 8] },
      'blocks.0.weight': { shape: [3, 3], data: new Array(9).fill(0) },
      'blocks.1.weight': { shape: [1, 2], data: [5, 6] },
      'extra.bias': { shape: [1], data: [0] },
    };
    let err: unknown;
    try {
      m.loadStateDict(sd);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDictError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/missing keys: .*blocks\.0\.running/);
    expect(msg).toMatch(/blocks\.1\.running/);
    expect(msg).toMatch(/unexpected keys: extra\.bias/);
    expect(msg).toMatch(/blocks\.0\.weight: checkpoint \[3, 3\] vs model \[3, 2\]/);
    assertClose(await m.a.weight.toArray(), [0.5, 0.5, 0.5, 0.5]);

    const report = m.loadStateDict(sd, { strict: false });
    expect(report.unexpected).toEqual(['extra.bias']);
    assertClose(await m.a.weight.toArray(), [1, 2, 3, 4]);
    assertClose(await m.a.running.toArray(), [7, 8]);
    expect(m.a.weight.requiresGrad).toBe(true);
  });

  it('round-trips stateDict() into another instance', async () => {
    const src = new Tree();
    src.loadStateDict({ 'a.weight': { shape: [2, 2], data: [9, 8, 7, 6] } }, { strict: false });
    const dst = new Tree();
    dst.loadStateDict(src.stateDict());
    assertClose(await dst.a.weight.toArray(), [9, 8, 7, 6]);
    src.dispose();
    assertClose(await dst.a.weight.toArray(), [9, 8, 7, 6]);
    const t = fromArray([1, 2, 3, 4], [2, 2]);
    dst.loadStateDict(new Map([['a.weight', t]]), { strict: false });
    assertClose(await dst.a.weight.toArray(), [1, 2, 3, 4]);
  });

  it('train/eval propagate to children', () => {
    const m = new Tree().eval();
    expect([...m.namedModules()].every(([, c]) => !c.training)).toBe(true);
    m.train();
    expect(m.a.training).toBe(true);
  });

  it('freeze: eval mode and no parameter asks for a gradient, children included', () => {
    const m = new Tree();
    expect(m.freeze()).toBe(m);
    expect([...m.namedModules()].every(([, c]) => !c.training)).toBe(true);
    expect(m.parameters().length).toBe(3);
    expect(m.parameters().some((p) => p.requiresGrad)).toBe(false);
  });
});
