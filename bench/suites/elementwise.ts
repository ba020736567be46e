// Elementwise bandwidth: add (2 reads + 1 write), a unary op (neg) and a copy, in GB/s.
import { add, clone, neg, randn } from '../../src/ops/index.js';
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
    const y = randn(shape, { seed: 2 });
    const tf = s.tfjs?.tf;
    const tx: TfTensor | null = tf ? tf.randomNormal(shape) : null;
    const ty: TfTensor | null = tf ? tf.randomNormal(shape) : null;
    const label = `${n / M}M f32`;
    const cases: Array<{ op: string; bytes: number; ours: () => Tensor; theirs: (() => TfTensor) | null; note?: string }> = [
      { op: 'add', bytes: 3 * 4 * n, ours: () => add(x, y), theirs: tf ? () => tf.add(tx!, ty!) : null },
      { op: 'neg', bytes: 2 * 4 * n, ours: () => neg(x), theirs: tf ? () => tf.neg(tx!) : null },
      // tfjs has no copying op (clone/identity share the buffer): cflens only.
      { op: 'copy', bytes: 2 * 4 * n, ours: () => clone(x), theirs: null, note: 'tfjs has no copying op' },
    ];
    for (const c of cases) {
      rows.push(await measurePair(s, { suite: 'elementwise', op: c.op, shape: label, unit: 'GB/s', work: c.bytes, note: c.note },
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
    y.dispose();
    tx?.dispose();
    ty?.dispose();
  }
  return rows;
}
