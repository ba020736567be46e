import { beforeAll, describe, expect, it } from 'vitest';
import {
  backward, linear, matmul, matmulKernelFor, mm, sum,
  type GpuContext, type HostArray, type MatmulKernel, } from '../../src/index.js';
import { assertClose, checkOp, randomArray, setupGpu, up, useFlags } from '../helpers/gpu.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await setupGpu();
});

// ---------------------------------------------------------------------------------------------------
// CPU reference in f64: torch.matmul semantics, written out with loops.

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** op(a) · op(b) over broadcast batch dims; op transposes the last two axes when flagged. */
function refMm(a: HostArray, b: HostArray, ta = false, tb = false): HostArray {
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [M, K] = ta ? [ac, ar] : [ar, ac];
  const [K2, N] = tb ? [bc, br] : [br, bc];
  if (K !== K2) throw new Error('refMm: inner sizes differ');
  const aB = a.shape.slice(0, -2);
  const bB = b.shape.slice(0, -2);
  const rank = Math.max(aB.length, bB.length);
  const batch: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = aB[aB.length - rank + i] ?? 1;
    const db = bB[bB.length - rank + i] ?? 1;
    batch.push(Math.max(da, db));
  }
  const out = new Float64Array(numel(batch) * M * N);
  for (let bi = 0; bi < numel(batch); bi++) {
    // batch multi-index → each operand's matrix index (size-1 and missing dims broadcast)
    let rest = bi;
    let ai = 0;
    let bj = 0;
    let aMul = 1;
    let bMul = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const c = rest % batch[d];
      rest = Math.floor(rest / batch[d]);
      const da = aB[aB.length - rank + d] ?? 1;
      const db = bB[bB.length - rank + d] ?? 1;
      ai += (da === 1 ? 0 : c) * aMul;
      bj += (db === 1 ? 0 : c) * bMul;
      aMul *= da;
      bMul *= db;
    }
    const ao = ai * M * K;
    const bo = bj * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a.data[ao + (ta ? k * M + m : m * K + k)] * b.data[bo + (tb ? n * K + k : k * N + n)];
        out[(bi * M + m) * N + n] = s;
      }
    }
  }
  return { shape: [...batch, M, N], data: out };
}

/** torch.matmul with 1-D promotion. */
function refMatmul(a: HostArray, b: HostArray): HostArray {
  const a2 = a.shape.length === 1 ? { shape: [1, a.shape[0]], data: a.data } : a;
  const b2 = b.shape.length === 1 ? { shape: [b.shape[0], 1], data: b.data } : b;
  const y = refMm(a2, b2);
  const shape = y.shape.filter((_, i) => !((a.shape.length === 1 && i === y.shape.length - 2) || (b.shape.length === 1 && i === y.shape.length - 1)));
  return { shape, data: y.data };
}

function refLinear(x: HostArray, w: HostArray, b?: HostArray): HostArray {
  const [O, I] = w.shape;
  const rows = numel(x.shape) / I;
  const out = new Float64Array(rows * O);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < O; o++) {
      let s = b ? b.data[o] : 0;
      for (let i = 0; i < I; i++) s += x.data[r * I + i] * w.data[o * I + i];
      out[r * O + o] = s;
    }
  }
  return { shape: [...x.shape.slice(0, -1), O], data: out };
}

/** Tolerance for K-term f32 dot products of values in [-1, 1). */
const tol = (K: number) => ({ atol: 2e-6 * Math.sqrt(K + 1), rtol: 1e-5 });

// ---------------------------------------------------------------------------------------------------
// Forward cases, run under each kernel. Shapes are odd on purpose (1, 3, 7, 33, 65): partial tiles,
// K % 4 != 0, unaligned vec4 paths; the regs kernel also swaps operands when N is the short side.

interface MmCase { a: number[]; b: number[]; ta?: boolean; tb?: boolean }
const MM_CASES: MmCase[] = [
  { a: [1, 1], b: [1, 1] },
  { a: [3, 7], b: [7, 5] },
  { a: [3, 65], b: [65, 33] }, // K % 4 = 1, N % 4 = 1
  { a: [33, 7], b: [7, 3] }, // N short: regs computes the transposed product
  { a: [20, 12], b: [12, 36] }, // aligned: vec4 loads of A and B, partial row tile
  { a: [7, 3], b: [5, 7], ta: true, tb: true },
  { a: [8, 18], b: [8, 9], ta: true }, // Aᵀ: M % 4 = 2 (scalar), K aligned
  { a: [12, 20], b: [12, 33], ta: true }, // Aᵀ with M % 4 = 0: vec4
  { a: [17, 12], b: [33, 12], tb: true }, // x·wᵀ, K % 4 = 0: vec4 columns
  { a: [3, 13], b: [5, 13], tb: true }, // x·wᵀ, scalar
];
const KINDS: Array<{ label: string; kind: MatmulKernel; subgroups?: boolean }> = [
  { label: 'regs', kind: 'regs' },
  { label: 'tiled', kind: 'tiled' },
];

for (const K of KINDS) {
  describe(`matmul forward, ${K.label} kernel`, () => {
    useFlags({ 'matmul.kernel': K.kind, subgroups: K.subgroups ?? true });

    it('uses the forced kernel', () => {
      expect(matmulKernelFor(ctx)).toBe(K.kind);
    });

    it('2-D products with odd sizes, all transpose flags', async () => {
      for (const [i, c] of MM_CASES.entries()) {
        const A = randomArray(c.a, 10 + i);
        const B = randomArray(c.b, 50 + i);
        const y = mm(up(A), up(B), { transA: c.ta, transB: c.tb });
        const e = refMm(A, B, c.ta, c.tb);
        expect(y.shape).toEqual(e.shape);
        assertClose(await y.toArray(), e.data, tol(c.ta ? c.a[0] : c.a[1]), `${JSON.stringify(c)}`);
      }
    });

    it('1-D operands: dot, vector·matrix, matrix·vector, vector·batch', async () => {
      const cases: Array<[number[], number[]]> = [[[7], [7]], [[5], [5, 3]], [[3, 5], [5]], [[5], [2, 5, 3]], [[2, 3, 5], [5]]];
      for (const [i, [sa, sb]] of cases.entries()) {
        const A = randomArray(sa, 70 + i);
        const B = randomArray(sb, 80 + i);
        const y = matmul(up(A), up(B));
        const e = refMatmul(A, B);
        expect(y.shape, `${JSON.stringify(sa)} @ ${JSON.stringify(sb)}`).toEqual(e.shape);
        assertClose(await y.toArray(), e.data, tol(5), `${JSON.stringify(sa)} @ ${JSON.stringify(sb)}`);
      }
    });

    it('broadcast batch dims: [2,1,3,4] @ [5,4,6], and batched Aᵀ with a rank-2 Bᵀ', async () => {
      const A = randomArray([2, 1, 3, 4], 1);
      const B = randomArray([5, 4, 6], 2);
      const y = matmul(up(A), up(B));
      expect(y.shape).toEqual([2, 5, 3, 6]);
      assertClose(await y.toArray(), refMatmul(A, B).data, tol(4), 'broadcast');
      const C = randomArray([3, 4, 9], 3); // op(C) = [3, 9, 4]
      const D = randomArray([5, 4], 4); // op(D) = [4, 5], shared by the 3 batches
      const z = mm(up(C), up(D), { transA: true, transB: true });
      expect(z.shape).toEqual([3, 9, 5]);
      assertClose(await z.toArray(), refMm(C, D, true, true).data, tol(4), 'batched transposes');
    });

    it('a larger product (full tiles of the big tiled variant)', async () => {
      const A = randomArray([2, 256, 8], 5);
      const B = randomArray([8, 260], 6);
      const y = matmul(up(A), up(B));
      assertClose(await y.toArray(), refMatmul(A, B).data, tol(8), 'large');
    });

    it('empty sizes: K = 0 gives zeros, M = 0 an empty result', async () => {
      const y = matmul(up({ shape: [2, 0], data: new Float64Array(0) }), up({ shape: [0, 3], data: new Float64Array(0) }));
      expect(y.shape).toEqual([2, 3]);
      expect(Array.from(await y.toArray())).toEqual([0, 0, 0, 0, 0, 0]);
      expect(matmul(up({ shape: [0, 3], data: new Float64Array(0) }), up(randomArray([3, 2], 1))).shape).toEqual([0, 2]);
    });
  });
}

describe('matmul, regs kernel without subgroups', () => {
  useFlags({ 'matmul.kernel': 'regs', subgroups: false });
  it('matches the reference (A loaded per lane)', async () => {
    for (const [i, c] of [{ a: [3, 65], b: [65, 33] }, { a: [4, 8], b: [8, 12] }].entries()) {
      const A = randomArray(c.a, 90 + i);
      const B = randomArray(c.b, 95 + i);
      assertClose(await mm(up(A), up(B)).toArray(), refMm(A, B).data, tol(c.a[1]), JSON.stringify(c));
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Gradients: dA = g·op(B)ᵀ and dB = op(A)ᵀ·g, summed over broadcast batch dims; both kernels.

for (const K of KINDS) {
  describe(`matmul gradients, ${K.label} kernel`, () => {
    useFlags({ 'matmul.kernel': K.kind });

    it('gradcheck 2-D, 1-D and broadcast batches', async () => {
      // (dims ≤ 4 keep every gradient product on the small-tile kernel variant: fewer compiles)
      const cases: Array<[number[], number[]]> = [[[3, 4], [4, 2]], [[4], [4, 3]], [[2, 3], [3]], [[2, 1, 2, 3], [3, 3, 2]], [[3, 2, 4], [4, 1]]];
      for (const [i, [sa, sb]] of cases.entries()) {
        await checkOp(`matmul ${JSON.stringify(sa)} @ ${JSON.stringify(sb)}`, matmul, refMatmul, [randomArray(sa, 20 + i), randomArray(sb, 30 + i)], tol(5));
      }
    });

    it('gradcheck with transpose flags', async () => {
      for (const [ta, tb] of [[true, false], [false, true], [true, true]]) {
        const sa = ta ? [2, 4, 3] : [2, 3, 4];
        const sb = tb ? [3, 4] : [4, 3];
        await checkOp(`mm ta=${ta} tb=${tb}`, (a, b) => mm(a, b, { transA: ta, transB: tb }), (a, b) => refMm(a, b, ta, tb),
          [randomArray(sa, 40), randomArray(sb, 41)], tol(4));
      }
    });

    it('linear with and without bias, forward and gradients', async () => {
      const x = randomArray([2, 2, 6], 60);
      const w = randomArray([4, 6], 61);
      const b = randomArray([4], 62);
      await checkOp('linear', (x, w, b) => linear(x, w, b), refLinear, [x, w, b], tol(6));
      await checkOp('linear, no bias', (x, w) => linear(x, w), (x, w) => refLinear(x, w), [x, w], tol(6));
      await checkOp('linear, 1-D input', (x, w, b) => linear(x, w, b), refLinear, [randomArray([6], 63), w, b], tol(6));
    });
  });
}

describe('matmul API', () => {
  it('errors name the op and both shapes', () => {
    const a = up(randomArray([2, 3], 1));
    const b = up(randomArray([4, 5], 2));
    expect(() => matmul(a, b)).toThrow(/matmul.*\[2, 3\].*\[4, 5\]/);
    expect(() => matmul(up(randomArray([2, 2, 3], 1)), up(randomArray([3, 3, 1], 2)))).toThrow(/matmul.*\[2, 2, 3\].*\[3, 3, 1\].*broadcast/);
    expect(() => matmul(up(randomArray([], 1)), b)).toThrow(/matmul.*scalar/);
    expect(() => linear(a, up(randomArray([4, 2], 3)))).toThrow(/linear.*\[2, 3\].*\[4, 2\]/);
  });

  it('method forms and gradient accumulation through a shared operand', async () => {
    const A = randomArray([3, 4], 7);
    const a = up(A, true);
    const m = a.matmul(a.transpose());
    assertClose(await m.toArray(), refMm(A, A, false, true).data, tol(4), 'a·aᵀ');
    backward(sum(a.mm(a, { transB: true })));
    // d/dA sum(A·Aᵀ) = (1·A) + (1ᵀ·A) = 2 · column sums broadcast... check against the formula.
    const g = await a.grad!.toArray();
    const colSum = [0, 1, 2, 3].map((k) => A.data[k] + A.data[4 + k] + A.data[8 + k]);
    assertClose(g, Array.from({ length: 12 }, (_, i) => 2 * colSum[i % 4]), tol(4), 'grad');
  });
});
