// Checks both GEMM kernels at realistic sizes on the current adapter (the unit tests keep shapes tiny
// for CPU adapters): sampled entries against f64 dot products, every transpose combination, odd sizes,
// broadcast batches.   npx tsx bench/matmul-check.ts [--quick]
import { initGpu } from '../src/gpu/index.js';
import { fromArray, mm, type MatmulKernel } from '../src/ops/index.js';

interface Case { a: number[]; b: number[]; ta: boolean; tb: boolean }

function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    a[i] = (s / 2 ** 32) * 2 - 1;
  }
  return a;
}

export async function checkMatmul({ quick = false, log = console.log }: { quick?: boolean; log?: (s: string) => void } = {}): Promise<number> {
  const ctx = await initGpu();
  const big = quick ? 256 : 1024;
  const cases: Case[] = [];
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      const sq = (r: number, c: number, t: boolean) => (t ? [c, r] : [r, c]);
      cases.push({ a: sq(big, big, ta), b: sq(big, big, tb), ta, tb });
      cases.push({ a: sq(1000, 1001, ta), b: sq(1001, 999, tb), ta, tb });
      cases.push({ a: [3, ...sq(77, 64, ta)], b: [3, ...sq(64, 77, tb)], ta, tb });
      cases.push({ a: sq(1, 515, ta), b: sq(515, 300, tb), ta, tb });
      cases.push({ a: sq(300, 515, ta), b: sq(515, 1, tb), ta, tb });
    }
  }
  cases.push({ a: [2, 1, 130, 40], b: [5, 40, 66], ta: false, tb: false });
  let failures = 0;
  for (const kind of ['regs', 'tiled'] as MatmulKernel[]) {
    ctx.flags.set({ 'matmul.kernel': kind });
    for (const [ci, c] of cases.entries()) {
      const A = rand(c.a.reduce((x, y) => x * y, 1), 1 + ci);
      const B = rand(c.b.reduce((x, y) => x * y, 1), 100 + ci);
      const a = fromArray(A, c.a, { ctx });
      const b = fromArray(B, c.b, { ctx });
      const t0 = performance.now();
      const y = mm(a, b, { transA: c.ta, transB: c.tb });
      const got = await y.toArray();
      const ms = performance.now() - t0;
      const [ar, ac] = c.a.slice(-2);
      const [br, bc] = c.b.slice(-2);
      const [M, K] = c.ta ? [ac, ar] : [ar, ac];
      const N = c.tb ? br : bc;
      const aB = c.a.slice(0, -2);
      const bB = c.b.slice(0, -2);
      const batch = y.shape.slice(0, -2);
      const count = batch.reduce((x, z) => x * z, 1);
      let worst = 0;
      for (let s = 0; s < 300; s++) {
        const idx = Math.floor(((s * 2654435761) % 2 ** 32) / 2 ** 32 * count * M * N);
        const bi = Math.floor(idx / (M * N));
        const m = Math.floor((idx % (M * N)) / N);
        const n = idx % N;
        // batch index → operand matrices (broadcast)
        let rest = bi;
        let ai = 0;
        let bj = 0;
        let am = 1;
        let bm = 1;
        for (let d = batch.length - 1; d >= 0; d--) {
          const cc = rest % batch[d];
          rest = Math.floor(rest / batch[d]);
          const da = aB[aB.length - batch.length + d] ?? 1;
          const db = bB[bB.length - batch.length + d] ?? 1;
          ai += (da === 1 ? 0 : cc) * am;
          bj += (db === 1 ? 0 : cc) * bm;
          am *= da;
          bm *= db;
        }
        let e = 0;
        for (let k = 0; k < K; k++) {
          e += A[ai * M * K + (c.ta ? k * M + m : m * K + k)] * B[bj * K * N + (c.tb ? n * K + k : k * N + n)];
        }
        worst = Math.max(worst, Math.abs(e - got[idx]) / (1e-5 * Math.sqrt(K) + 1e-6 * Math.abs(e)));
      }
      const ok = worst <= 1;
      if (!ok) failures++;
      log(
        `${ok ? 'ok  ' : 'FAIL'} ${kind} [${c.a}]${c.ta ? 'ᵀ' : ''} · [${c.b}]${c.tb ? 'ᵀ' : ''} → [${y.shape}]  ` +
        `worst ${worst.toFixed(3)} of tolerance  ${ms.toFixed(1)} ms`,
      );
      a.dispose();
      b.dispose();
      y.dispose();
    }
  }
  ctx.flags.set({ 'matmul.kernel': undefined });
  return failures;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('matmul-check.ts')) {
  const failures = await checkMatmul({ quick: process.argv.includes('--quick') });
  console.log(failures ? `${failures} failure(s)` : 'all matmul checks passed');
  process.exit(failures ? 1 : 0);
}
