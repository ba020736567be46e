// The convolution kernels for CPU adapters: register-blocked implicit GEMM without workgroup memory, A
// shared through subgroup broadcasts, as the regs matmul. "regs" (conv_regs*.wgsl) walks K through the
// table (forward; input gradient at stride 1) or the pixels (weight gradient); "rows" (conv_rows*.wgsl)
// serves width-preserving convolutions with one aligned vec4 per lane and neighbours by shuffle.
import { generated, generatedCode, shader } from '../gpu/wgsl.js';

const COMP = ['x', 'y', 'z', 'w'];

export interface ConvRegsShape { MODE: 0 | 1; TM: number; SG: number; WG: number; vecA: boolean }

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

/** The template filled with the generated blocks, cached and named for profiles. */
function fillRegs(name: string, label: string, key: string, SG: number, fill: Record<string, string | number>): string {
  return generated('conv_regs', key, label, () =>
    shader(name, { ENABLE: SG ? 'enable subgroups;' : '', SG_ARG: SG ? ', @builtin(subgroup_invocation_id) sg: u32' : '', ...fill }));
}

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

export function convRegsShader(o: ConvRegsShape): string {
  const key = JSON.stringify(o);
  const hit = generatedCode('conv_regs', key);
  if (hit) return hit;
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
  return fillRegs('conv_regs', `conv_regs[${o.MODE ? 'dgrad' : 'fwd'}]`, key, SG, {
    A_T: vecA ? 'vec4f' : 'f32', MODE: o.MODE, TM, WG,
    SETUP: setup.join('\n'), STEP: step.join('\n'), STORE: store.join('\n'),
  });
}

export interface ConvRegsWgradShape { TM: number; SG: number; WG: number; vecA: boolean; row4: boolean }

/** The weight-gradient regs kernel (shaders/conv_regs_wgrad.wgsl); vecA needs OH·OW % 4 == 0 and kPerSplit % 4 == 0. */
export function convRegsWgradShader(o: ConvRegsWgradShape): string {
  const key = `w${JSON.stringify(o)}`;
  const hit = generatedCode('conv_regs', key);
  if (hit) return hit;
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
  const store: string[] = ['  let slice = split * params[16];'];
  for (let i = 0; i < TM; i++) {
    store.push(`  if (m0 + ${i}u < M) {`);
    store.push(`    let row${i} = slice + (g * Mg + m0 + ${i}u) * N;`);
    for (let j = 0; j < 4; j++) store.push(`    if (n0 + ${j}u < N) { dst[row${i} + n0 + ${j}u] = acc${i}.${COMP[j]}; }`);
    store.push('  }');
  }
  return fillRegs('conv_regs_wgrad', 'conv_regs[wgrad]', key, SG, {
    A_T: vecA ? 'vec4f' : 'f32', TM, WG,
    SETUP: setup.join('\n'), STEP: step.join('\n'), STORE: store.join('\n'),
  });
}

export interface ConvRowsShape { MODE: 0 | 1; SH: number; DH: number; KH: number; KW: number; pl: number; TM: number; SG: number }

/** Column shift of kernel column kw in the row kernel: forward kw − pl, input gradient pl − kw (mirrored). */
export function rowShift(mode: 0 | 1, kw: number, pl: number): number {
  return mode === 0 ? kw - pl : pl - kw;
}

/** The row kernel (shaders/conv_rows.wgsl), for SG ≥ 4 lanes, KW ≤ 4 and column shifts within ±4. */
export function convRowsShader(o: ConvRowsShape): string {
  const key = `rows${JSON.stringify(o)}`;
  const hit = generatedCode('conv_regs', key);
  if (hit) return hit;
  const { MODE, KH, KW, pl, TM, SG } = o;
  const nA = Math.ceil(TM / SG);
  const setup: string[] = [];
  const step: string[] = [];
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
  return fillRegs('conv_rows', `conv_rows[${MODE ? 'dgrad' : 'fwd'}]`, key, SG, {
    MODE, SH: o.SH, DH: o.DH, KH, TM, SG, SETUP: setup.join('\n'), STEP: step.join('\n'), STORE: store.join('\n'),
  });
}

export interface ConvRowsWgradShape { SH: number; DH: number; KH: number; KW: number; pl: number; TM: number; SG: number }

/** The row weight-gradient kernel (shaders/conv_rows_wgrad.wgsl); the geometry of convRowsShader. */
export function convRowsWgradShader(o: ConvRowsWgradShape): string {
  const key = `rowsw${JSON.stringify(o)}`;
  const hit = generatedCode('conv_regs', key);
  if (hit) return hit;
  const { KW, pl, TM, SG } = o;
  const nA = Math.ceil(TM / SG);
  const setup: string[] = [...PIXEL_WALK.start];
  const step: string[] = [];
  for (let r = 0; r < nA; r++) setup.push(`  let ra${r} = g * Mg + min(m0 + min(${r * SG}u + sg, ${TM - 1}u), M - 1u);`);
  for (let i = 0; i < TM; i++) setup.push(`  var acc${i} = vec4f(0.0);`);
  // Window [L, v, R] around the lane's 4 pixels; pixel j, kernel column kw reads window 4 + j + kw − pl.
  if (pl > 0) step.push('    let L = select(vec4f(0.0), X[max(at, 1u) - 1u], yok && sox > 0u);');
  if (KW - 1 - pl > 0) step.push('    let R = select(vec4f(0.0), X[at + select(0u, 1u, sox + 4u < OWu)], yok && sox + 4u < OWu);');
  for (let j = 0; j < 4; j++) step.push(`    let bq${j} = vec4f(${[0, 1, 2, 3].map((kw) => (kw < KW ? windowAt(4 + j + kw - pl) : '0.0')).join(', ')});`);
  for (let r = 0; r < nA; r++) step.push(`    let al${r} = A[((sb * Co + ra${r}) * OHW + soy * OWu + sox) / 4u];`);
  step.push(...fmaBlock(TM, SG), ...PIXEL_WALK.next);
  const store: string[] = ['  let slice = split * params[16];', '  if (lc < Cg * KH) {'];
  for (let i = 0; i < TM; i++) {
    store.push(`    if (m0 + ${i}u < M) {`);
    store.push(`      let at${i} = slice + (g * Mg + m0 + ${i}u) * N + lc * KW;`);
    for (let kw = 0; kw < KW; kw++) store.push(`      dst[at${i} + ${kw}u] = acc${i}.${COMP[kw]};`);
    store.push('    }');
  }
  store.push('  }');
  return fillRegs('conv_rows_wgrad', 'conv_rows[wgrad]', key, SG, {
    SH: o.SH, DH: o.DH, KH: o.KH, KW, TM, SG, SETUP: setup.join('\n'), STEP: step.join('\n'), STORE: store.join('\n'),
  });
}
