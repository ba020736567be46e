// Matmul GFLOP/s, square sizes (and the x·wᵀ path of linear, and a batched case), cflens vs tfjs-webgpu.
import { mm, randn } from '../../src/ops/index.js';
import type { Tensor } from '../../src/autograd/tensor.js';
import { measurePair, type Row, type SuiteContext, type TimingOptions } from '../lib.js';

type TfTensor = import('@tensorflow/tfjs-core').Tensor;

interface Case { label: string; batch: number; n: number; transB: boolean }

function opts(n: number, quick: boolean): TimingOptions {
  if (n >= 2048) return { iterations: 2, time: 0, warmupIterations: 1 };
  if (n >= 1024) return { iterations: quick ? 3 : 5, time: 0, warmupIterations: 1 };
  return { iterations: quick ? 5 : 10, time: quick ? 200 : 500, warmupIterations: 2 };
}

export async function run(s: SuiteContext): Promise<Row[]> {
  const cases: Case[] = (s.quick ? [256, 1024] : [256, 512, 1024, 2048]).map((n) => ({ label: 'matmul', batch: 0, n, transB: false }));
  if (!s.quick) {
    cases.push({ label: 'matmul x·wᵀ', batch: 0, n: 1024, transB: true });
    cases.push({ label: 'matmul batched', batch: 16, n: 256, transB: false });
  }
  const rows: Row[] = [];
  for (const c of cases) {
    const lead = c.batch ? [c.batch] : [];
    const shape = [...lead, c.n, c.n];
    const a = randn(shape, { seed: 1 });
    const b = randn(shape, { seed: 2 });
    let ta: TfTensor | null = null;
    let tb: TfTensor | null = null;
    const tf = s.tfjs?.tf;
    if (tf) {
      ta = tf.randomNormal(shape);
      tb = tf.randomNormal(shape);
    }
    const flops = 2 * c.n ** 3 * Math.max(1, c.batch);
    const label = `${c.batch ? `${c.batch}×` : ''}${c.n}×${c.n}·${c.n}×${c.n}${c.transB ? 'ᵀ' : ''}`;
    rows.push(await measurePair(s, { suite: 'matmul', op: c.label, shape: label, unit: 'GFLOP/s', work: flops },
      async () => {
        const y: Tensor = mm(a, b, { transB: c.transB });
        await s.ctx.sync();
        y.dispose();
      },
      tf && ta && tb
        ? async () => {
          const y = tf.matMul(ta!, tb!, false, c.transB);
          await s.tfjs!.sync();
          y.dispose();
        }
        : null,
      opts(c.n, s.quick)));
    a.dispose();
    b.dispose();
    ta?.dispose();
    tb?.dispose();
  }
  return rows;
}
