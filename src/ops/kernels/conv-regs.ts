// The convolution kernels for CPU adapters, generated whole: register-blocked implicit GEMMs without
// workgroup memory or barriers, A shared through subgroup broadcasts, as the regs matmul (./matmul.ts).
// "regs" walks K through the K table (forward; input gradient at stride 1) or the pixels (weight
// gradient); "rows" serves width-preserving convolutions with one aligned vec4 per lane and neighbours by
// shuffle. Their geometry comes from ConvParams (include/conv_params); what is compiled in is the block
// (TM rows, SG lanes), the mode and, for the row kernels, the kernel rows and column shifts.
import { generated, include } from '../../gpu/wgsl.js';
import { CONV_PARAMS } from './conv-params.js';

const COMP = ['x', 'y', 'z', 'w'];

/** acc_i += A(i, q) · b_q for the TM rows, A chunks shared by subgroup broadcast (SG > 0) or loaded per lane. */
function fmaBlock(TM: number, SG: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < TM; i++) {
    const chunk = SG ? `ch${i}` : `al${i}`;
    if (SG) out.push(`    let ${chunk} = subgroupBroadcast(al${Math.floor(i / SG)}, ${i % SG}u);`);
    for (let q = 0; q < 4; q++) out.push(`    acc${i} = fma(vec4f(${chunk}.${COMP[q]}), bq${q}, acc${i});`);
  }
  return out;
}

/** Chunks of A each lane loads per step, and the setup lines every regs kernel starts with (its 4 columns, clamped). */
function prologue(TM: number, SG: number): { nA: number; setup: string[]; step: string[] } {
  const setup = [0, 1, 2, 3].map((j) => `  let nc${j} = min(n0 + ${j}u, N - 1u);`);
  return { nA: SG ? Math.ceil(TM / SG) : TM, setup, step: [] };
}

/** A storage binding: name, type, 'read_write' for the output, and a comment. */
type Binding = [name: string, type: string, access?: 'read' | 'read_write', note?: string];

/** The parts of one generated convolution kernel (see emit). */
interface Kernel {
  subgroups: boolean;
  /** Module-scope constants (the compiled-in specialisation). */
  consts: string[];
  /** Storage bindings 0, 1, …; ConvParams is bound after them. */
  bindings: Binding[];
  WG: number;
  /** main's builtins after the workgroup id. */
  builtins: string;
  /** main's lines from the ConvParams geometry (include/conv_params) to the loop over K. */
  head: string[];
  loop: string;
  step: string[];
  store: string[];
}

/** The whole WGSL of a generated kernel: its bindings, ConvParams, main with the geometry, the loop over K and the store. */
function emit(o: Kernel): string {
  return [
    ...(o.subgroups ? ['enable subgroups;'] : []),
    ...o.consts,
    '',
    ...o.bindings.map(([name, type, access = 'read', note], i) =>
      `@group(0) @binding(${i}) var<storage, ${access}> ${name}: ${type};${note ? ` // ${note}` : ''}`),
    CONV_PARAMS.wgsl,
    `@group(0) @binding(${o.bindings.length}) var<storage, read> params: Params;`,
    '',
    `@compute @workgroup_size(${o.WG})`,
    `fn main(@builtin(workgroup_id) wid: vec3u, ${o.builtins}) {`,
    include('conv_params'),
    ...o.head,
    `  for (${o.loop}) {`,
    ...o.step,
    '  }',
    ...o.store,
    '}',
    '',
  ].join('\n');
}

/** main's builtins of the regs kernels: lanes of WG, with the subgroup lane where SG > 0. */
const regsBuiltins = (SG: number): string =>
  `@builtin(local_invocation_index) lane: u32${SG ? ', @builtin(subgroup_invocation_id) sg: u32' : ''}`;

/**
 * Split-K in the weight-gradient kernels: workgroup z = split · G + g sums k in [split · kPerSplit, …)
 * into dst slice `split` (conv_reduce.wgsl adds the slices).
 */
const SPLIT_K = [
  '  let g = wid.z % G;',
  '  let split = wid.z / G;',
  '  let kBegin = split * params.kPerSplit;',
  '  let kEnd = min(K, kBegin + params.kPerSplit);',
];

/**
 * The weight-gradient kernels' walk over output pixels when OW % 4 == 0: a step's 4 pixels share an
 * image and a row, so (image sb, row soy, column sox) is carried from step to step instead of divided
 * out of k (llvmpipe runs integer division by a runtime value as one scalar division per lane).
 */
const PIXEL_WALK = {
  start: ['  var sb = kBegin / OHW;', '  var soy = (kBegin % OHW) / OWu;', '  var sox = kBegin % OWu;'],
  next: [
    '    sox += 4u;',
    '    let wrapRow = sox >= OWu;',
    '    sox = select(sox, 0u, wrapRow);',
    '    soy = select(soy, soy + 1u, wrapRow);',
    '    let wrapImage = soy >= u32(OH);',
    '    soy = select(soy, 0u, wrapImage);',
    '    sb = select(sb, sb + 1u, wrapImage);',
  ],
};

/** Element `at` of the 12-pixel window [L, v, R] (three vec4s) the row kernels build around a lane's 4 pixels. */
const windowAt = (at: number): string => `${['L', 'v', 'R'][Math.floor(at / 4)]}.${COMP[at % 4]}`;

export interface ConvRegsShape { MODE: 0 | 1; TM: number; SG: number; WG: number; vecA: boolean }

/**
 * The regs convolution: the table modes of conv_gemm.wgsl (MODE 0 forward; MODE 1 input gradient at
 * stride 1) without workgroup memory or barriers. C[M, N] = A[M, K] · B[K, N] for group g = workgroup z,
 * where A rows are contiguous (w, or w permuted to [G, Cg, Mg·T] for MODE 1) and B is gathered from the
 * image X through the K table (offset, row shift, column shift) relative to each column's base, zero
 * outside the image. One workgroup = one subgroup of SG lanes (SG = 0: lanes of WG, each loading A
 * itself); it owns TM rows; each lane owns 4 consecutive columns (TM × vec4 accumulators). Table entries
 * past K fail the bounds test, so B is zero there and A (clamped to its row) may be anything finite.
 * The stride is a parameter: one pipeline per mode and block serves every stride.
 */
export function convRegsShader(o: ConvRegsShape): string {
  return generated('conv_regs', JSON.stringify(o), `conv_regs[${o.MODE ? 'dgrad' : 'fwd'}]`, () => buildRegs(o));
}

function buildRegs(o: ConvRegsShape): string {
  const { TM, SG, WG, vecA } = o;
  const { nA, setup, step } = prologue(TM, SG);
  // Columns: base offset into X and the row / column of the window origin, per lane column j.
  for (let j = 0; j < 4; j++) {
    setup.push(`  let b${j} = nc${j} / cols;`);
    setup.push(`  let p${j} = nc${j} % cols;`);
    setup.push(`  var hy${j} = i32(p${j} / colW) * SH - pt;`);
    setup.push(`  var wx${j} = i32(p${j} % colW) * SW - pl;`);
    setup.push(`  if (MODE == 1u) { hy${j} = i32(p${j} / colW) + pt; wx${j} = i32(p${j} % colW) + pl; }`);
    setup.push(`  let base${j} = i32(b${j} * srcBatch + srcGroup) + hy${j} * PW + wx${j};`);
  }
  // A rows this lane loads (shared by broadcast with subgroups).
  for (let r = 0; r < nA; r++) {
    const c = SG ? `min(${r * SG}u + sg, ${TM - 1}u)` : `${r}u`;
    setup.push(`  let ra${r} = (aRow0 + min(m0 + ${c}, M - 1u)) * K;`);
  }
  for (let i = 0; i < TM; i++) setup.push(`  var acc${i} = vec4f(0.0);`);
  // k step: table entries, B block (4 k × 4 columns), A chunks, fma.
  // The 4 table entries are the same for every lane: with subgroups each lane loads one and the
  // others read it by broadcast (a per-lane load in a loop is a gather on llvmpipe, even when uniform).
  if (SG >= 4) {
    step.push(`    let tl = ktab[k + (sg & 3u)];`);
    for (let q = 0; q < 4; q++) step.push(`    let t${q} = subgroupBroadcast(tl, ${q}u);`);
  } else for (let q = 0; q < 4; q++) step.push(`    let t${q} = ktab[k + ${q}u];`);
  for (let q = 0; q < 4; q++) {
    const vals: string[] = [];
    for (let j = 0; j < 4; j++) {
      step.push(`    let y${q}${j} = hy${j} + t${q}.y;`);
      step.push(`    let x${q}${j} = wx${j} + t${q}.z;`);
      // One unsigned compare per axis tests both bounds; & (not &&) keeps it branch-free.
      step.push(`    let v${q}${j} = select(0.0, X[u32(max(base${j} + t${q}.x, 0))], (u32(y${q}${j}) < u32(PH)) & (u32(x${q}${j}) < u32(PW)));`);
      vals.push(`v${q}${j}`);
    }
    step.push(`    let bq${q} = vec4f(${vals.join(', ')});`);
  }
  for (let r = 0; r < nA; r++) {
    if (vecA) step.push(`    let al${r} = A[(ra${r} + k) / 4u];`);
    else step.push(`    let al${r} = vec4f(${[0, 1, 2, 3].map((q) => `A[ra${r} + min(k + ${q}u, K - 1u)]`).join(', ')});`);
  }
  step.push(...fmaBlock(TM, SG));
  const store: string[] = [];
  for (let j = 0; j < 4; j++) {
    store.push(`  if (n0 + ${j}u < N) {`);
    store.push(`    let o${j} = b${j} * outBatch + p${j};`);
    for (let i = 0; i < TM; i++) {
      store.push(`    if (m0 + ${i}u < M) {`);
      store.push(`      let c = chan0 + m0 + ${i}u;`);
      store.push(`      dst[o${j} + c * cols] = acc${i}.${COMP[j]} + select(0.0, bias[c], hasBias);`);
      store.push('    }');
    }
    store.push('  }');
  }
  return emit({
    subgroups: SG > 0,
    consts: [`const MODE: u32 = ${o.MODE}u;`],
    bindings: [
      ['A', `array<${vecA ? 'vec4f' : 'f32'}>`], ['X', 'array<f32>'], ['bias', 'array<f32>'], ['ktab', 'array<vec4<i32>>'],
      ['dst', 'array<f32>', 'read_write'],
    ],
    WG,
    builtins: regsBuiltins(SG),
    head: [
      '  let hasBias = params.hasBias != 0u;',
      '  let SH = i32(params.SH);',
      '  let SW = i32(params.SW);',
      '  let g = wid.z;',
      `  let m0 = wid.y * ${TM}u;`,
      `  let n0 = (wid.x * ${WG}u + lane) * 4u;`,
      include('conv_table_modes'),
      '  let aRow0 = g * M;',
      ...setup,
    ],
    loop: 'var k = 0u; k < K; k += 4u',
    step,
    store,
  });
}

export interface ConvRegsWgradShape { TM: number; SG: number; WG: number; vecA: boolean; row4: boolean }

/**
 * The regs weight gradient (conv_gemm.wgsl's MODE 2 without workgroup memory):
 * dw[g·Mg + m, n] = Σ_k dy[b, g·Mg + m, oh, ow] · x[b, g·Cg + ci, oh·SH − pt + kh·DH, ow·SW − pl + kw·DW]
 * with n = (ci, kh, kw) and k = (b, oh, ow). Each lane owns 4 consecutive n (its window offsets are
 * fixed), the workgroup TM rows m; every step decodes 4 k's (uniform over lanes), or walks them
 * (PIXEL_WALK) when row4 (OW % 4 == 0). vecA needs OH·OW % 4 == 0 and kPerSplit % 4 == 0. Split-K as
 * SPLIT_K. The kernel geometry is a parameter: one pipeline per block serves every convolution.
 */
export function convRegsWgradShader(o: ConvRegsWgradShape): string {
  return generated('conv_regs', `w${JSON.stringify(o)}`, 'conv_regs[wgrad]', () => buildRegsWgrad(o));
}

function buildRegsWgrad(o: ConvRegsWgradShape): string {
  const { TM, SG, WG, vecA } = o;
  const { nA, setup, step } = prologue(TM, SG);
  // Columns n = (ci, kh, kw): fixed window offsets per lane column.
  for (let j = 0; j < 4; j++) {
    setup.push(`  let tt${j} = nc${j} % (KH * KW);`);
    setup.push(`  let ry${j} = i32(tt${j} / KW) * DH - pt;`);
    setup.push(`  let rx${j} = i32(tt${j} % KW) * DW - pl;`);
    setup.push(`  let cb${j} = xGroup + (nc${j} / (KH * KW)) * HW;`);
  }
  for (let r = 0; r < nA; r++) {
    const c = SG ? `min(${r * SG}u + sg, ${TM - 1}u)` : `${r}u`;
    setup.push(`  let ca${r} = g * Mg + min(m0 + ${c}, M - 1u);`);
  }
  for (let i = 0; i < TM; i++) setup.push(`  var acc${i} = vec4f(0.0);`);
  // Decode the 4 k's of the step: image b, output row and column (carried, PIXEL_WALK, when OW % 4 == 0).
  if (o.row4) {
    setup.push(...PIXEL_WALK.start);
    step.push('    let xbr = sb * C * HW;');
    step.push('    let oyr = i32(soy) * SH;');
    for (let q = 0; q < 4; q++) {
      step.push(`    let kin${q} = k + ${q}u < kEnd;`);
      step.push(`    let ox${q} = i32(sox + ${q}u) * SW;`);
    }
    step.push(`    let p0 = soy * OWu + sox;`);
    step.push(`    let b0 = sb;`);
  } else {
    for (let q = 0; q < 4; q++) {
      step.push(`    let k${q} = min(k + ${q}u, K - 1u);`);
      step.push(`    let kin${q} = k + ${q}u < kEnd;`);
      step.push(`    let b${q} = k${q} / OHW;`);
      step.push(`    let p${q} = k${q} % OHW;`);
      step.push(`    let oy${q} = i32(p${q} / OWu) * SH;`);
      step.push(`    let ox${q} = i32(p${q} % OWu) * SW;`);
      step.push(`    let xb${q} = b${q} * C * HW;`);
    }
  }
  for (let q = 0; q < 4; q++) {
    const vals: string[] = [];
    const oy = o.row4 ? 'oyr' : `oy${q}`;
    const xb = o.row4 ? 'xbr' : `xb${q}`;
    for (let j = 0; j < 4; j++) {
      step.push(`    let y${q}${j} = ${oy} + ry${j};`);
      step.push(`    let x${q}${j} = ox${q} + rx${j};`);
      step.push(
        `    let v${q}${j} = select(0.0, X[${xb} + cb${j} + u32(max(y${q}${j} * W + x${q}${j}, 0))], ` +
        `kin${q} & (u32(y${q}${j}) < u32(H)) & (u32(x${q}${j}) < u32(W)));`,
      );
      vals.push(`v${q}${j}`);
    }
    step.push(`    let bq${q} = vec4f(${vals.join(', ')});`);
  }
  // A chunk of row r: dy[b, ca, p] for the 4 k's (one vec4 when they lie in one image, aligned).
  for (let r = 0; r < nA; r++) {
    if (vecA) step.push(`    let al${r} = A[((b0 * Co + ca${r}) * OHW + p0) / 4u];`);
    else if (o.row4) step.push(`    let al${r} = vec4f(${[0, 1, 2, 3].map((q) => `A[(b0 * Co + ca${r}) * OHW + p0 + ${q}u]`).join(', ')});`);
    else step.push(`    let al${r} = vec4f(${[0, 1, 2, 3].map((q) => `A[(b${q} * Co + ca${r}) * OHW + p${q}]`).join(', ')});`);
  }
  step.push(...fmaBlock(TM, SG));
  if (o.row4) step.push(...PIXEL_WALK.next);
  const store: string[] = ['  let slice = split * params.outSize;'];
  for (let i = 0; i < TM; i++) {
    store.push(`  if (m0 + ${i}u < M) {`);
    store.push(`    let row${i} = slice + (g * Mg + m0 + ${i}u) * N;`);
    for (let j = 0; j < 4; j++) store.push(`    if (n0 + ${j}u < N) { dst[row${i} + n0 + ${j}u] = acc${i}.${COMP[j]}; }`);
    store.push('  }');
  }
  return emit({
    subgroups: SG > 0,
    consts: [],
    bindings: [
      ['A', `array<${vecA ? 'vec4f' : 'f32'}>`, 'read', 'dy [Bt, Co, OH, OW]'], ['X', 'array<f32>', 'read', 'x [Bt, C, H, W]'],
      ['dst', 'array<f32>', 'read_write'],
    ],
    WG,
    builtins: regsBuiltins(SG),
    head: [
      include('conv_window'),
      '  let OWu = u32(OW);',
      '  let OHW = u32(OH) * OWu;',
      ...SPLIT_K,
      `  let m0 = wid.y * ${TM}u;`,
      `  let n0 = (wid.x * ${WG}u + lane) * 4u;`,
      '  let HW = u32(H * W);',
      '  let xGroup = g * Cg * HW;',
      ...setup,
    ],
    loop: 'var k = kBegin; k < kEnd; k += 4u',
    step,
    store,
  });
}

export interface ConvRowsShape { MODE: 0 | 1; SH: number; DH: number; KH: number; KW: number; pl: number; TM: number; SG: number }

/** Column shift of kernel column kw in the row kernel: forward kw − pl, input gradient pl − kw (mirrored). */
export function rowShift(mode: 0 | 1, kw: number, pl: number): number {
  return mode === 0 ? kw - pl : pl - kw;
}

/**
 * The row convolution, for SG ≥ 4 lanes: stride 1 and dilation 1 along the width, output as wide as the
 * source, width a multiple of 4, KW ≤ 4 and column shifts within ±4 (the forward of "same"-padded
 * convolutions and their input gradient). Like the regs kernel it is a register-blocked implicit GEMM
 * without workgroup memory (one workgroup = one subgroup; TM rows of the output channels; each lane owns
 * 4 consecutive pixels of one output row), but it walks K as (source channel, kernel row) and gets every
 * kernel column's 4 values from one aligned vec4 load of the source row plus its neighbours' vec4s
 * through subgroup shuffles, instead of 4 bounds-checked scalar gathers per tap (every per-lane load in
 * a loop is a gather on llvmpipe). The two lanes at the subgroup's ends load their missing neighbour
 * themselves. A is the weight repacked by conv_pack.wgsl: one vec4 of kernel-column taps per (channel,
 * kh, row). MODE 0 forward: source x [Bt, C, H, W], rows y = r·SH − pt + kh·DH, taps at column
 * ow + kw − pl. MODE 1 input gradient (stride 1): source dy [Bt, Co, OH, OW], rows y = r + pt − kh·DH,
 * taps at column iw + pl − kw.
 */
export function convRowsShader(o: ConvRowsShape): string {
  return generated('conv_regs', `rows${JSON.stringify(o)}`, `conv_rows[${o.MODE ? 'dgrad' : 'fwd'}]`, () => buildRows(o));
}

function buildRows(o: ConvRowsShape): string {
  const { MODE, KH, KW, pl, TM, SG } = o;
  const nA = Math.ceil(TM / SG);
  const setup: string[] = [];
  const step: string[] = ['    let cb = src0 + c * plane;'];
  for (let kh = 0; kh < KH; kh++) {
    const y = MODE === 0 ? `r * SH - pt + ${kh} * DH` : `r + pt - ${kh} * DH`;
    setup.push(`  let y${kh} = ${y};`);
    setup.push(`  let yok${kh} = u32(y${kh}) < u32(PH);`);
    setup.push(`  let yo${kh} = u32(clamp(y${kh}, 0, PH - 1)) * RW;`);
  }
  for (let r = 0; r < nA; r++) setup.push(`  let ra${r} = min(m0 + min(${r * SG}u + sg, ${TM - 1}u), M - 1u);`);
  for (let i = 0; i < TM; i++) setup.push(`  var acc${i} = vec4f(0.0);`);
  for (let kh = 0; kh < KH; kh++) {
    step.push(`    {`);
    step.push(`      let row = cb + yo${kh};`);
    step.push(`      let v = select(vec4f(0.0), S[(row + ow0) / 4u], yok${kh});`);
    step.push(`      var h = vec4f(0.0);`);
    step.push(`      if (isEdge) { h = S[(row + edge) / 4u]; }`);
    step.push(`      let L = select(vec4f(0.0), select(subgroupShuffleUp(v, 1u), h, sg == 0u), hasLeft && yok${kh});`);
    step.push(`      let R = select(vec4f(0.0), select(subgroupShuffleDown(v, 1u), h, sg == ${SG - 1}u), hasRight && yok${kh});`);
    for (let kw = 0; kw < KW; kw++) {
      const dx = rowShift(MODE, kw, pl);
      if (dx === 0) continue;
      step.push(`      let t${kw} = vec4f(${[0, 1, 2, 3].map((j) => windowAt(4 + dx + j)).join(', ')});`);
    }
    for (let r = 0; r < nA; r++) step.push(`      let al${r} = A[aRow0 + (c * KH + ${kh}u) * M + ra${r}];`);
    for (let i = 0; i < TM; i++) {
      step.push(`      let ch${i} = subgroupBroadcast(al${Math.floor(i / SG)}, ${i % SG}u);`);
      for (let kw = 0; kw < KW; kw++) {
        const tap = rowShift(MODE, kw, pl) === 0 ? 'v' : `t${kw}`;
        step.push(`      acc${i} = fma(vec4f(ch${i}.${COMP[kw]}), ${tap}, acc${i});`);
      }
    }
    step.push(`    }`);
  }
  const store: string[] = ['  if (n0 < N) {', '    let o = b * outBatch + p;'];
  for (let i = 0; i < TM; i++) {
    store.push(`    if (m0 + ${i}u < M) {`);
    store.push(`      let oc = chan0 + m0 + ${i}u;`);
    store.push(`      dst[(o + oc * cols) / 4u] = acc${i} + vec4f(select(0.0, bias[oc], hasBias));`);
    store.push('    }');
  }
  store.push('  }');
  return emit({
    subgroups: true,
    consts: [`const MODE: u32 = ${MODE}u;`, `const SH: i32 = ${o.SH};`, `const DH: i32 = ${o.DH};`, `const KH: u32 = ${KH}u;`],
    bindings: [['A', 'array<vec4f>'], ['S', 'array<vec4f>'], ['bias', 'array<f32>'], ['dst', 'array<vec4f>', 'read_write']],
    WG: SG,
    builtins: '@builtin(subgroup_invocation_id) sg: u32',
    head: [
      '  let hasBias = params.hasBias != 0u;',
      '  let g = wid.z;',
      `  let m0 = wid.y * ${TM}u;`,
      "  // Output pixels: this lane's 4 columns (clamped to the last 4; never stored when past N).",
      `  let n0 = (wid.x * ${SG}u + sg) * 4u;`,
      '  let nc = min(n0, N - 4u);',
      include('conv_table_modes'),
      '  let RW = u32(PW); // = colW: the output is as wide as its source',
      '  let plane = u32(PH) * RW;',
      '  let b = nc / cols;',
      '  let p = nc % cols;',
      '  let r = i32(p / RW);',
      '  let ow0 = p % RW;',
      '  let hasLeft = ow0 > 0u;',
      '  let hasRight = ow0 + 4u < RW;',
      "  // The end lanes' missing neighbours: the 4 pixels left of lane 0, right of the last lane.",
      '  let edge = select(min(ow0 + 4u, RW - 4u), max(ow0, 4u) - 4u, sg == 0u);',
      `  let isEdge = sg == 0u || sg == ${SG}u - 1u;`,
      '  let src0 = b * srcBatch + srcGroup;',
      '  let aRow0 = g * Cs * KH * M;',
      ...setup,
    ],
    loop: 'var c = 0u; c < Cs; c++',
    step,
    store,
  });
}

export interface ConvRowsWgradShape { SH: number; DH: number; KH: number; KW: number; pl: number; TM: number; SG: number }

/**
 * The row weight gradient, for the geometry of convRowsShader:
 * dw[g·Mg + m, c, kh, kw] = Σ_{b, oh, ow} dy[b, g·Mg + m, oh, ow] · x[b, g·Cg + c, oh·SH − pt + kh·DH, ow + kw − pl].
 * Each lane owns one (c, kh) and its KW kernel columns (vec4 accumulators over kw), the workgroup TM
 * rows m; every step takes 4 pixels of one row: one aligned vec4 of x per lane plus the vec4s beside it
 * where the kernel reaches past it, and one vec4 of dy per row m shared by subgroup broadcast. The pixel
 * (image sb, row soy, column sox) is carried from step to step (PIXEL_WALK). Split-K as SPLIT_K.
 */
export function convRowsWgradShader(o: ConvRowsWgradShape): string {
  return generated('conv_regs', `rowsw${JSON.stringify(o)}`, 'conv_rows[wgrad]', () => buildRowsWgrad(o));
}

function buildRowsWgrad(o: ConvRowsWgradShape): string {
  const { KW, pl, TM, SG } = o;
  const nA = Math.ceil(TM / SG);
  const setup: string[] = [...PIXEL_WALK.start];
  const step: string[] = [
    '    let y = i32(soy) * SH - pt + kh * DH;',
    '    let yok = u32(y) < u32(H);',
    '    let row = sb * C * HW + xChan + u32(clamp(y, 0, H - 1)) * u32(W);',
    '    let at = (row + sox) / 4u;',
    '    let v = select(vec4f(0.0), X[at], yok);',
  ];
  for (let r = 0; r < nA; r++) setup.push(`  let ra${r} = g * Mg + min(m0 + min(${r * SG}u + sg, ${TM - 1}u), M - 1u);`);
  for (let i = 0; i < TM; i++) setup.push(`  var acc${i} = vec4f(0.0);`);
  // Window [L, v, R] around the lane's 4 pixels; pixel j, kernel column kw reads window 4 + j + kw − pl.
  if (pl > 0) step.push('    let L = select(vec4f(0.0), X[max(at, 1u) - 1u], yok && sox > 0u);');
  if (KW - 1 - pl > 0) step.push('    let R = select(vec4f(0.0), X[at + select(0u, 1u, sox + 4u < OWu)], yok && sox + 4u < OWu);');
  for (let j = 0; j < 4; j++) step.push(`    let bq${j} = vec4f(${[0, 1, 2, 3].map((kw) => (kw < KW ? windowAt(4 + j + kw - pl) : '0.0')).join(', ')});`);
  for (let r = 0; r < nA; r++) step.push(`    let al${r} = A[((sb * Co + ra${r}) * OHW + soy * OWu + sox) / 4u];`);
  step.push(...fmaBlock(TM, SG), ...PIXEL_WALK.next);
  const store: string[] = ['  let slice = split * params.outSize;', '  if (lc < Cg * KH) {'];
  for (let i = 0; i < TM; i++) {
    store.push(`    if (m0 + ${i}u < M) {`);
    store.push(`      let at${i} = slice + (g * Mg + m0 + ${i}u) * N + lc * KW;`);
    for (let kw = 0; kw < KW; kw++) store.push(`      dst[at${i} + ${kw}u] = acc${i}.${COMP[kw]};`);
    store.push('    }');
  }
  store.push('  }');
  return emit({
    subgroups: true,
    consts: [`const SH: i32 = ${o.SH};`, `const DH: i32 = ${o.DH};`, `const KH: u32 = ${o.KH}u;`, `const KW: u32 = ${KW}u;`],
    bindings: [['A', 'array<vec4f>', 'read', 'dy [Bt, Co, OH, OW]'], ['X', 'array<vec4f>', 'read', 'x [Bt, C, H, W]'], ['dst', 'array<f32>', 'read_write']],
    WG: SG,
    builtins: '@builtin(subgroup_invocation_id) sg: u32',
    head: [
      '  let OWu = u32(OW);',
      '  let OHW = u32(OH) * OWu;',
      '  let HW = u32(H * W);',
      ...SPLIT_K,
      `  let m0 = wid.y * ${TM}u;`,
      "  // This lane's (c, kh), clamped (never stored past Cg · KH).",
      `  let lc = wid.x * ${SG}u + sg;`,
      '  let cl = min(lc, Cg * KH - 1u);',
      '  let c = cl / KH;',
      '  let kh = i32(cl % KH);',
      '  let xChan = (g * Cg + c) * HW;',
      ...setup,
    ],
    loop: 'var k = kBegin; k < kEnd; k += 4u',
    step,
    store,
  });
}
