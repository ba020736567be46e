// Reduction bandwidth (bytes read / s): sum over the last axis of [rows, 1024] and a full sum to a scalar.
import { randn, sum } from '../../src/ops/index.js';
import type { Tensor } from '../../src/autograd/tensor.js';
import { measurePair, type Row, type SuiteContext } from '../lib.js';

type TfTensor = import('@tensorflow/tfjs-core').Tensor;

export async function run(s: SuiteContext): Promise<Row[]> {
  const rows: Row[] = [];
  const M = 1024 * 1024;
  const sizes = s.quick ? [4 * M] : [4 * M, 16 * M];
  const o = { iterations: s.quick ? 5 : 10, time: s.quick ? 200 : 500, warmupIterations: 2 };
  for (const n of sizes) {
    const shape = [n / 1024, 1024];
    const x = randn(shape, { seed: 1 });
    const tf = s.tfjs?.tf;
    const tx: TfTensor | null = tf ? tf.randomNormal(shape) : null;
    const cases: Array<{ op: string; shape: string; ours: () => Tensor; theirs: (() => TfTensor) | null }> = [
      { op: 'sum last axis', shape: `[${shape.join(', ')}] → [${shape[0]}]`, ours: () => sum(x, -1), theirs: tf ? () => tf.sum(tx!, -1) : null },
      { op: 'sum all', shape: `${n / M}M → scalar`, ours: () => sum(x), theirs: tf ? () => tf.sum(tx!) : null },
    ];
    for (const c of cases) {
      rows.push(await measurePair(s, { suite: 'reduce', op: c.op, shape: c.shape, unit: 'GB/s', work: 4 * n },
        async () => {
          const r = c.ours();
          await s.ctx.sync();
          r.dispose();
        },
        c.theirs
          ? async () => {
            const r = c.theirs!();
            await s.tfjs!.sync();
            r.dispose();
          }
          : null,
        o));
    }
    x.dispose();
    tx?.dispose();
  }
  return rows;
}
