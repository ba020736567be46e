import { record } from '../autograd/record.js';
import { Tensor, shapeStr } from '../autograd/tensor.js';
import { subgroupLanes, type GpuContext } from '../gpu/context.js';
import { defineFlag, oneOf } from '../gpu/flags.js';
import { add } from './elementwise.js';
import { sumToShape } from './shape.js';
import { reshape } from './shape.js';
import { assertFloat, broadcastShapes, broadcastStrides, launch, sameCtx, shader } from './util.js';
import { generated } from '../gpu/wgsl.js';

// ---------------------------------------------------------------------------------------------------
// Kernel choice. Two batched GEMM kernels take the same parameters:
//   'regs'  (shaders/matmul.wgsl): register-blocked, no workgroup memory, A shared through subgroup
//           broadcasts. CPU adapters (llvmpipe/lavapipe, SwiftShader) run it fastest: there, workgroup
//           memory costs as much as a global load plus barriers.
//   'tiled' (shaders/matmul_tiled.wgsl): classic workgroup-memory tiling, for real GPUs.
// The adapter decides (`ctx.caps.isCpu`); the 'matmul.kernel' flag (CFLENS_MATMUL=regs|tiled) overrides.

export type MatmulKernel = 'regs' | 'tiled';

declare module '../gpu/flags.js' {
  interface FlagValues {
    'matmul.kernel': MatmulKernel | 'auto';
  }
}
defineFlag({
  name: 'matmul.kernel', default: 'auto',
  doc: "the batched GEMM kernel: 'regs' (register-blocked, subgroup broadcasts: CPU adapters), 'tiled' (workgroup-memory tiles: GPUs), 'auto' by adapter",
  env: { name: 'CFLENS_MATMUL', parse: oneOf('CFLENS_MATMUL', ['regs', 'tiled', 'auto'] as const) },
});

/** The GEMM kernel used on `ctx`: the 'matmul.kernel' flag, else regs on CPU adapters and tiled elsewhere. */
export function matmulKernelFor(ctx: GpuContext): MatmulKernel {
  const k = ctx.flags.get('matmul.kernel');
  return k !== 'auto' ? k : ctx.caps.isCpu ? 'regs' : 'tiled';
}

/** One GEMM launch on raw buffers: C[b] (contiguous [..., M, N], or transposed through sM/sN) = op(A[b]) · op(B[b]). */
export interface Gemm {
  M: number;
  N: number;
  K: number;
  ta: boolean;
  tb: boolean;
  a: GPUBuffer;
  b: GPUBuffer;
  batch: number[];
  /** Batch strides in elements, 0 on broadcast axes. */
  aStr: number[];
  bStr: number[];
  /** Element strides of C's rows and columns. */
  sM: number;
  sN: number;
}

const COMP = ['x', 'y', 'z', 'w'];

/**
 * WGSL for the regs kernel (shaders/matmul.wgsl with its unrolled blocks). TM rows per workgroup, SG
 * lanes sharing A through subgroupBroadcast (0: each lane loads A itself), WG lanes.
 */
export function regsShader(o: RegsShape): string {
  const key = `${o.TM},${o.SG},${o.WG},${+o.ta}${+o.tb}${+o.vecA}${+o.vecB}${+o.kAligned}`;
  return generated('matmul_regs', key, 'matmul', () => buildRegsShader(o));
}

interface RegsShape { TM: number; SG: number; WG: number; ta: boolean; tb: boolean; vecA: boolean; vecB: boolean; kAligned: boolean }

function buildRegsShader(o: RegsShape): string {
  const { TM, SG, WG, ta, tb, vecA, vecB, kAligned } = o;
  const TMQ = TM / 4;
  const nA = SG ? Math.ceil(TM / SG) : TM; // A chunks each lane loads per step
  const setup: string[] = [];
  const step: string[] = [];
  const kk = (q: number) => (q === 0 ? 'k' : `k + ${q}u`);
  // k + q, clamped to the last row when K % 4 != 0 (the A value there is zeroed).
  const kc = (q: number) => (kAligned ? kk(q) : `min(${kk(q)}, K - 1u)`);
  // --- A: TM vec4 chunks per step. !ta: chunk c = row c, k..k+3. ta: chunk c = k + c / TMQ, rows 4 (c % TMQ)...+3.
  for (let r = 0; r < nA; r++) {
    const c = SG ? `min(${r * SG}u + sg, ${TM - 1}u)` : `${r}u`;
    if (!ta) {
      setup.push(`  let ra${r} = aOff + min(m0 + ${c}, M - 1u) * K;`);
      if (vecA) step.push(`    let al${r} = A[(ra${r} + k) / 4u];`);
      else {
        step.push(`    var al${r} = vec4f(${[0, 1, 2, 3].map((q) => `A[ra${r} + ${kc(q)}]`).join(', ')});`);
        if (!kAligned) step.push(`    al${r} = select(vec4f(0.0), al${r}, vec4u(k, k + 1u, k + 2u, k + 3u) < vec4u(K));`);
      }
    } else {
      setup.push(`  let qa${r} = ${c} / ${TMQ}u;`);
      setup.push(`  let ma${r} = m0 + (${c} % ${TMQ}u) * 4u;`);
      const krow = kAligned ? `k + qa${r}` : `min(k + qa${r}, K - 1u)`;
      if (vecA) {
        setup.push(`  let ra${r} = aOff + min(ma${r}, M - 4u);`);
        step.push(`    var al${r} = A[(ra${r} + (${krow}) * M) / 4u];`);
      } else {
        step.push(`    let ka${r} = aOff + (${krow}) * M;`);
        step.push(`    var al${r} = vec4f(${[0, 1, 2, 3].map((t) => `A[ka${r} + min(ma${r} + ${t}u, M - 1u)]`).join(', ')});`);
      }
      if (!kAligned) step.push(`    al${r} = select(vec4f(0.0), al${r}, k + qa${r} < K);`);
    }
  }
  // --- B: each lane's 4 × 4 block, as rows b0..b3 (vec4 over its 4 columns) for k..k+3.
  if (!tb) {
    if (vecB) {
      setup.push(`  let pb = (bOff + min(n0, N - 4u)) / 4u;`);
      setup.push(`  let N4 = N / 4u;`);
      for (let q = 0; q < 4; q++) step.push(`    let b${q} = B[pb + (${kc(q)}) * N4];`);
    } else {
      for (let j = 0; j < 4; j++) setup.push(`  let nb${j} = bOff + min(n0 + ${j}u, N - 1u);`);
      for (let q = 0; q < 4; q++) {
        step.push(`    let kb${q} = (${kc(q)}) * N;`);
        step.push(`    let b${q} = vec4f(${[0, 1, 2, 3].map((j) => `B[nb${j} + kb${q}]`).join(', ')});`);
      }
    }
  } else {
    for (let j = 0; j < 4; j++) setup.push(`  let pb${j} = bOff + min(n0 + ${j}u, N - 1u) * K;`);
    for (let j = 0; j < 4; j++) {
      if (vecB) step.push(`    let bt${j} = B[(pb${j} + k) / 4u];`);
      else step.push(`    let bt${j} = vec4f(${[0, 1, 2, 3].map((q) => `B[pb${j} + ${kc(q)}]`).join(', ')});`);
    }
    for (let q = 0; q < 4; q++) step.push(`    let b${q} = vec4f(${[0, 1, 2, 3].map((j) => `bt${j}.${COMP[q]}`).join(', ')});`);
  }
  // --- share A chunks, multiply-accumulate
  const chunk = (c: number) => (SG ? `ch${c}` : `al${c}`);
  const aval = (i: number, q: number) => (ta ? `${chunk(q * TMQ + (i >> 2))}.${COMP[i & 3]}` : `${chunk(i)}.${COMP[q]}`);
  for (let i = 0; i < TM; i++) setup.push(`  var acc${i} = vec4f(0.0);`);
  const shared = new Set<number>();
  for (let i = 0; i < TM; i++) {
    for (let q = 0; q < 4; q++) {
      const c = ta ? q * TMQ + (i >> 2) : i;
      if (SG && !shared.has(c)) {
        shared.add(c);
        step.push(`    let ch${c} = subgroupBroadcast(al${Math.floor(c / SG)}, ${c % SG}u);`);
      }
    }
    for (let q = 0; q < 4; q++) step.push(`    acc${i} = fma(vec4f(${aval(i, q)}), b${q}, acc${i});`);
  }
  const store: string[] = ['  let sM = params[4];', '  let sN = params[5];'];
  for (let i = 0; i < TM; i++) {
    store.push(`  if (m0 + ${i}u < M) {`);
    store.push(`    let ci${i} = cOff + (m0 + ${i}u) * sM;`);
    for (let j = 0; j < 4; j++) store.push(`    if (n0 + ${j}u < N) { C[ci${i} + (n0 + ${j}u) * sN] = acc${i}.${COMP[j]}; }`);
    store.push('  }');
  }
  return shader('matmul', {
    ENABLE: SG ? 'enable subgroups;' : '',
    SG_ARG: SG ? ', @builtin(subgroup_invocation_id) sg: u32' : '',
    A_T: vecA ? 'vec4f' : 'f32',
    B_T: vecB ? 'vec4f' : 'f32',
    WG,
    TM,
    SETUP: setup.join('\n'),
    STEP: step.join('\n'),
    STORE: store.join('\n'),
  });
}

const MAX_GROUPS = 65535;

/** Launches a product into `out` (contiguous [...batch, M, N] unless sM/sN say otherwise); no tape. */
export function runGemm(ctx: GpuContext, g: Gemm, out: Tensor): void {
  const count = g.batch.reduce((x, y) => x * y, 1);
  if (!count || !g.M || !g.N) return;
  const kind = matmulKernelFor(ctx);
  let code: string;
  let per: [number, number];
  if (kind === 'regs') {
    const SG = subgroupLanes(ctx);
    const WG = SG || 8;
    // Lanes run along N (4 columns each), TM rows per workgroup. When N is too short to fill half the
    // lanes and M is longer, compute Cᵀ = op(B)ᵀ · op(A)ᵀ instead (swap operands, flip transposes,
    // store transposed): matrix-vector products then run along M.
    if (g.N < 2 * WG && g.M > g.N) {
      g = { ...g, M: g.N, N: g.M, ta: !g.tb, tb: !g.ta, a: g.b, b: g.a, aStr: g.bStr, bStr: g.aStr, sM: g.sN, sN: g.sM };
    }
    const TM = g.M <= 4 ? 4 : 16;
    const vecA = g.ta ? g.M % 4 === 0 : g.K % 4 === 0;
    const vecB = g.tb ? g.K % 4 === 0 : g.N % 4 === 0;
    code = regsShader({ TM, SG, WG, ta: g.ta, tb: g.tb, vecA, vecB, kAligned: g.K % 4 === 0 });
    per = [4 * WG, TM];
  } else {
    const T = g.M * g.N >= 256 * 256 ? 8 : 4;
    code = shader('matmul_tiled', { TM: T, TN: T });
    per = [16 * T, 16 * T];
  }
  const gx = Math.ceil(g.N / per[0]);
  const gy = Math.ceil(g.M / per[1]);
  if (gx > MAX_GROUPS || gy > MAX_GROUPS) {
    throw new Error(`cflens: matmul: a ${g.M} × ${g.N} output needs ${gx} × ${gy} workgroups, more than the ${MAX_GROUPS} per dimension a dispatch allows`);
  }
  for (let b0 = 0; b0 < count; b0 += MAX_GROUPS) {
    const params = [g.M, g.N, g.K, g.batch.length, g.sM, g.sN, b0, (g.ta ? 1 : 0) | (g.tb ? 2 : 0), ...g.batch, ...g.aStr, ...g.bStr];
    launch(ctx, code, [g.a, g.b, out.buffer], params, [gx, gy, Math.min(MAX_GROUPS, count - b0)]);
  }
}

/** Raw batched kernel (no tape) on tensors of rank ≥ 2 whose batch dimensions broadcast. */
function mmKernel(a: Tensor, b: Tensor, ta: boolean, tb: boolean): Tensor {
  const [am, ak] = ta ? [a.shape[a.ndim - 1], a.shape[a.ndim - 2]] : [a.shape[a.ndim - 2], a.shape[a.ndim - 1]];
  const [bk, bn] = tb ? [b.shape[b.ndim - 1], b.shape[b.ndim - 2]] : [b.shape[b.ndim - 2], b.shape[b.ndim - 1]];
  if (ak !== bk) {
    throw new Error(
      `cflens: matmul: shapes ${shapeStr(a.shape)}${ta ? 'ᵀ' : ''} and ${shapeStr(b.shape)}${tb ? 'ᵀ' : ''} do not match (inner sizes ${ak} and ${bk})`,
    );
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  let batch: number[];
  try {
    batch = broadcastShapes('matmul', aBatch, bBatch);
  } catch {
    throw new Error(
      `cflens: matmul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} have batch dimensions ${shapeStr(aBatch)} and ${shapeStr(bBatch)} ` +
      'that cannot be broadcast together',
    );
  }
  const out = Tensor.empty([...batch, am, bn], 'f32', a.ctx);
  if (!out.size) return out;
  runGemm(a.ctx, {
    M: am, N: bn, K: ak, ta, tb, a: a.buffer, b: b.buffer, batch,
    aStr: broadcastStrides(aBatch, batch).map((s) => s * am * ak),
    bStr: broadcastStrides(bBatch, batch).map((s) => s * bk * bn),
    sM: bn, sN: 1,
  }, out);
  return out;
}

/**
 * op(a) · op(b) for rank ≥ 2 with broadcast batch dimensions, op = transpose (of the last two axes)
 * when flagged; transposes are kernel flags, never copies. The vjp is again made of mm calls (so
 * higher-order gradients work): dA = g · op(B)ᵀ, dB = op(A)ᵀ · g, summed over broadcast batch axes.
 */
export function mm(a: Tensor, b: Tensor, { transA = false, transB = false }: { transA?: boolean; transB?: boolean } = {}): Tensor {
  assertFloat('matmul', a, b);
  sameCtx('matmul', a, b);
  if (a.ndim < 2 || b.ndim < 2) throw new Error(`cflens: matmul: mm needs rank ≥ 2, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  const y = mmKernel(a, b, transA, transB);
  return record('matmul', [a, b], y, (g) => {
    const ga = a.requiresGrad
      ? transA ? mm(b, g, { transA: transB, transB: true }) : mm(g, b, { transB: !transB })
      : null;
    const gb = b.requiresGrad
      ? transB ? mm(g, a, { transA: true, transB: transA }) : mm(a, g, { transA: !transA })
      : null;
    const ra = ga && sumToShape(ga, a.shape);
    const rb = gb && sumToShape(gb, b.shape);
    if (ga && ra !== ga) ga.dispose();
    if (gb && rb !== gb) gb.dispose();
    return [ra, rb];
  });
}

/** torch.matmul semantics: 1-D operands (promoted, then squeezed), 2-D, and batched N-D with broadcasting. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  assertFloat('matmul', a, b);
  if (a.ndim === 0 || b.ndim === 0) throw new Error(`cflens: matmul: scalars are not matrices (${shapeStr(a.shape)} and ${shapeStr(b.shape)}); use mul`);
  const ak = a.shape[a.ndim - 1];
  const bk = b.ndim === 1 ? b.shape[0] : b.shape[b.ndim - 2];
  if (ak !== bk) throw new Error(`cflens: matmul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} do not match (inner sizes ${ak} and ${bk})`);
  const aBatch = a.ndim > 2 ? a.shape.slice(0, -2) : [];
  const bBatch = b.ndim > 2 ? b.shape.slice(0, -2) : [];
  try {
    broadcastShapes('matmul', aBatch, bBatch);
  } catch {
    throw new Error(
      `cflens: matmul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} have batch dimensions ${shapeStr(aBatch)} and ${shapeStr(bBatch)} ` +
      'that cannot be broadcast together',
    );
  }
  const a2 = a.ndim === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.ndim === 1 ? reshape(b, [b.shape[0], 1]) : b;
  const y = mm(a2, b2);
  if (a2 !== a) a2.dispose();
  if (b2 !== b) b2.dispose();
  if (a.ndim > 1 && b.ndim > 1) return y;
  const shape = y.shape.filter((_, i) => !((a.ndim === 1 && i === y.ndim - 2) || (b.ndim === 1 && i === y.ndim - 1)));
  const r = reshape(y, shape);
  y.dispose();
  return r;
}

/** x·wᵀ + b with w in PyTorch's [out, in] layout (the transposed-B kernel path reads w as is); x is [..., in]. */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  assertFloat('linear', x, w);
  if (x.ndim === 0) throw new Error(`cflens: linear: input ${shapeStr(x.shape)} must have at least one dimension`);
  const inF = x.shape[x.ndim - 1];
  if (w.ndim !== 2 || w.shape[1] !== inF) {
    throw new Error(`cflens: linear: input ${shapeStr(x.shape)} and weight ${shapeStr(w.shape)} do not match (weight must be [out, ${inF}])`);
  }
  if (b) {
    assertFloat('linear', b);
    if (b.ndim !== 1 || b.shape[0] !== w.shape[0]) throw new Error(`cflens: linear: bias ${shapeStr(b.shape)} does not match weight ${shapeStr(w.shape)}`);
  }
  const lead = x.shape.slice(0, -1);
  const x2 = x.ndim === 2 ? x : reshape(x, [lead.reduce((p, q) => p * q, 1), inF]);
  const y2 = mm(x2, w, { transB: true });
  if (x2 !== x) x2.dispose();
  const y = x.ndim === 2 ? y2 : reshape(y2, [...lead, w.shape[0]]);
  if (y !== y2) y2.dispose();
  if (!b) return y;
  const out = add(y, b);
  y.dispose();
  return out;
}
