// The batched GEMM kernels: the choice between them, the generated register-blocked kernel for CPU
// adapters, matmul_tiled.wgsl for GPUs, and the launch (runGemm, also used by conv). Raw, no tape.
import type { Tensor } from '../../autograd/tensor.js';
import { subgroupLanes, type GpuContext } from '../../gpu/context.js';
import { defineFlag, oneOf } from '../../gpu/flags.js';
import { launch } from '../../gpu/kernel.js';
import { defineParams, generated, include, shader } from '../../gpu/wgsl.js';

// ---------------------------------------------------------------------------------------------------
// Kernel choice. Two batched GEMM kernels take the same parameters:
//   'regs'  (generated below): register-blocked, no workgroup memory, A shared through subgroup
//           broadcasts. CPU adapters (llvmpipe/lavapipe, SwiftShader) run it fastest: there, workgroup
//           memory costs as much as a global load plus barriers.
//   'tiled' (shaders/matmul_tiled.wgsl): classic workgroup-memory tiling, for real GPUs.
// The adapter decides (`ctx.caps.isCpu`); the 'matmul.kernel' flag (CFLENS_MATMUL=regs|tiled) overrides.

export type MatmulKernel = 'regs' | 'tiled';

declare module '../../gpu/flags.js' {
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
 * matmul_tiled.wgsl and the regs kernel: C is [M, N] per batch with element strides cRowStride,
 * cColStride; batches from batchOffset (a dispatch covers at most 65535); trans: bit 0 A, bit 1 B (the
 * tiled kernel reads it; the regs kernel has the transposes compiled in); dims = the batch shape, then
 * A's and B's batch strides (read by include/strided_offsets).
 */
export const MATMUL_PARAMS = defineParams('MatmulParams', {
  M: 'u32', N: 'u32', K: 'u32', batchRank: 'u32', cRowStride: 'u32', cColStride: 'u32', batchOffset: 'u32', trans: 'u32', dims: ['u32', '*'],
});

/**
 * The regs kernel, generated: batched C[b] = op(A[b]) · op(B[b]), register-blocked without workgroup
 * memory (for CPU adapters). One workgroup = one subgroup of SG lanes (SG = 0: no subgroups, lanes of
 * WG). The workgroup owns TM rows of C; each lane owns those TM rows × 4 consecutive columns (TM × vec4
 * accumulators). Per step of 4 k:
 *   - the TM × 4 slice of op(A) is TM vec4 "chunks" (rows along k, or 4 rows at one k when transposed);
 *     with subgroups each lane loads TM / SG of them and subgroupBroadcast shares them, so every element
 *     of A is loaded once per workgroup. (On llvmpipe every storage load inside a loop is a masked
 *     per-lane scalar gather, ~10 instructions per lane and element: sharing A that way triples throughput.)
 *   - each lane loads its own 4 × 4 block of op(B) (vec4 rows, or vec4 columns when transposed).
 * Loads use vec4 bindings where the contiguous axis is a multiple of 4, else scalars. Out-of-range rows
 * and columns are clamped (computed, never stored); k past K (K % 4 != 0) reads a clamped element that
 * is multiplied by a zeroed A value. The blocks are unrolled for the tile shape, transposes and alignment.
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
  const store: string[] = ['  let sM = params.cRowStride;', '  let sN = params.cColStride;'];
  for (let i = 0; i < TM; i++) {
    store.push(`  if (m0 + ${i}u < M) {`);
    store.push(`    let ci${i} = cOff + (m0 + ${i}u) * sM;`);
    for (let j = 0; j < 4; j++) store.push(`    if (n0 + ${j}u < N) { C[ci${i} + (n0 + ${j}u) * sN] = acc${i}.${COMP[j]}; }`);
    store.push('  }');
  }
  return [
    ...(SG ? ['enable subgroups;'] : []),
    `@group(0) @binding(0) var<storage, read> A: array<${vecA ? 'vec4f' : 'f32'}>;`,
    `@group(0) @binding(1) var<storage, read> B: array<${vecB ? 'vec4f' : 'f32'}>;`,
    '@group(0) @binding(2) var<storage, read_write> C: array<f32>;',
    MATMUL_PARAMS.wgsl,
    '@group(0) @binding(3) var<storage, read> params: Params;',
    '',
    include('strided_offsets'),
    '',
    `@compute @workgroup_size(${WG})`,
    `fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32${SG ? ', @builtin(subgroup_invocation_id) sg: u32' : ''}) {`,
    '  let M = params.M;',
    '  let N = params.N;',
    '  let K = params.K;',
    '  let batch = wid.z + params.batchOffset;',
    '  // Batch offsets (elements) from the batch index, broadcasting through zero strides.',
    '  let off = strided_offsets(batch, params.batchRank);',
    '  let aOff = off.x;',
    '  let bOff = off.y;',
    '  let cOff = batch * M * N;',
    `  let m0 = wid.y * ${TM}u;`,
    `  let n0 = (wid.x * ${WG}u + lane) * 4u;`,
    ...setup,
    '  for (var k = 0u; k < K; k += 4u) {',
    ...step,
    '  }',
    ...store,
    '}',
    '',
  ].join('\n');
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
    code = shader('matmul_tiled', { TM: T, TN: T }, MATMUL_PARAMS);
    per = [16 * T, 16 * T];
  }
  const gx = Math.ceil(g.N / per[0]);
  const gy = Math.ceil(g.M / per[1]);
  if (gx > MAX_GROUPS || gy > MAX_GROUPS) {
    throw new Error(`cflens: matmul: a ${g.M} × ${g.N} output needs ${gx} × ${gy} workgroups, more than the ${MAX_GROUPS} per dimension a dispatch allows`);
  }
  for (let b0 = 0; b0 < count; b0 += MAX_GROUPS) {
    const params = MATMUL_PARAMS.pack({
      M: g.M, N: g.N, K: g.K, batchRank: g.batch.length, cRowStride: g.sM, cColStride: g.sN, batchOffset: b0,
      trans: (g.ta ? 1 : 0) | (g.tb ? 2 : 0), dims: [...g.batch, ...g.aStr, ...g.bStr],
    });
    launch(ctx, code, [g.a, g.b, out.buffer], params, [gx, gy, Math.min(MAX_GROUPS, count - b0)]);
  }
}
