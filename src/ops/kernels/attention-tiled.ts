// The tiled fused attention kernels of the 'narrow' and 'wide' families, as whole generators built
// from one set of pieces (tile loads, score GEMMs, masked probabilities, accumulations, stores), so that
// the six kernels share every block they have in common.
//
// A workgroup of T×T threads (narrow T = 8, wide T = 16) holds tiles of BQ = T·RM queries and BK = T·RN
// keys transposed in workgroup memory ([d][row]); thread (ty, tx) computes an RM×RN register block of
// the BQ×BK logits: query rows row(a), keys key(n).
//   narrow  scalar tiles with odd strides QS = BQ + 1, KS = BK + 1 (neighbouring threads hit different
//           banks); rows ty + 8a, keys tx + 8n. Fits 16-32 KiB of workgroup memory.
//   wide    tiles of vectors (VM = RM rows, VN = RN keys per element) with a padded stride PS = 17, read
//           as one vector per d as in matmul_tiled.wgsl; rows ty·RM + a, keys tx·RN + n. For GPUs.
// The kernels (FlashAttention-2; no Lq×Lk buffer; P recomputed from the saved logsumexp backward):
//   fwd  per BQ queries, over key tiles: S = Q·Kᵀ (Q pre-scaled), masked; online softmax (running max m
//        and sum l, one rescale per tile); P → workgroup memory; V over K's tile; O += P·V. Saves lse.
//        A row with every key masked gives NaN (output and lse), as PyTorch's math path.
//   dq   per BQ queries, over key tiles: S, dP = dO·Vᵀ; dS = P ∘ (dP − Δ) → workgroup memory; dQ += dS·K.
//   dkv  per BK keys (K pre-scaled), over query tiles: S, dP; P, dS → workgroup memory;
//        dV += Pᵀ·dO, dK += dSᵀ·Q. Under causality the queries before the first key are skipped.
//        Output: one buffer, dK [B, Lk, D] then dV [B, Lk, DV] (8 storage bindings at most).
// dQ and dK are scaled once at the end. The sizes are run-time parameters (AttentionParams); the code is
// specialised on the family, the block and the head sizes rounded up to 8.
import { generated, include } from '../../gpu/wgsl.js';
import { ATTENTION_PARAMS } from './attention-params.js';

export type TiledFamily = 'narrow' | 'wide';
export type TiledKind = 'fwd' | 'dq' | 'dkv';
export interface TiledShape {
  family: TiledFamily;
  kind: TiledKind;
  RM: number;
  RN: number;
  /** Head sizes of q/k and v rounded up to 8 (the workgroup arrays). */
  DA: number;
  DVA: number;
}

const LABELS: Record<TiledKind, string> = { fwd: 'attention_fwd', dq: 'attention_bwd_dq', dkv: 'attention_bwd_dkv' };

/** The kernel's code, built once per shape; profiles name it attention_fwd, attention_bwd_dq_wide, …. */
export function attentionTiledShader(o: TiledShape): string {
  const label = o.family === 'narrow' ? LABELS[o.kind] : `${LABELS[o.kind]}_${o.family}`;
  return generated('attention_tiled', JSON.stringify(o), label, () => build(o));
}

type Side = 'q' | 'k';

/** How a family lays out tiles and register blocks. */
class Layout {
  readonly wide: boolean;
  readonly T: number;
  constructor(family: TiledFamily) {
    this.wide = family === 'wide';
    this.T = this.wide ? 16 : 8;
  }

  /** Tile position of the thread's a-th query (R 'RM', thread 'ty') or n-th key ('RN', 'tx'). */
  slot(thread: 'tx' | 'ty', R: 'RM' | 'RN', i: string): string {
    return this.wide ? `${thread} * ${R} + ${i}` : `${thread} + 8u * ${i}`;
  }

  row = (a: string) => this.slot('ty', 'RM', a);
  key = (n: string) => this.slot('tx', 'RN', n);

  /** A transposed tile of `rows` columns (BQ queries or BK keys) per d. */
  tile(name: string, side: Side, rows: string, note: string): string {
    const type = this.wide ? (side === 'q' ? 'VM' : 'VN') : 'f32';
    const stride = this.wide ? 'PS' : side === 'q' ? 'QS' : 'KS';
    return `var<workgroup> ${name}: array<${type}, ${rows} * ${stride}>; // ${note}`;
  }

  /** Element (d, r) of a transposed tile, r the query or key within it. */
  at(name: string, side: Side, d: string, r: string): string {
    if (!this.wide) return `${name}[${d} * ${side === 'q' ? 'QS' : 'KS'} + ${r}]`;
    const R = side === 'q' ? 'RM' : 'RN';
    return `${name}[${d} * PS + ${r} / ${R}][${r} % ${R}]`;
  }
}

interface Load { dst: string; src: string; dim: 'D' | 'DV'; scaled?: boolean }

/** Rows base..base + BQ (side q, length lq) or BK (side k, lk) of the sources, transposed into tiles. */
function loadTiles(L: Layout, side: Side, base: string, loads: Load[], ind: string): string[] {
  const [r, rows, len] = side === 'q' ? ['i', 'BQ', 'lq'] : ['j', 'BK', 'lk'];
  const out = [`for (var ${r} = ty; ${r} < ${rows}; ${r} += ${L.T}u) {`, `  let ok = ${base} + ${r} < ${len};`];
  for (const ld of loads) {
    const v = ld.dim === 'D' ? 'd' : 'c';
    out.push(
      `  for (var ${v} = tx; ${v} < ${ld.dim}; ${v} += ${L.T}u) {`,
      '    var w = 0.0;',
      `    if (ok) { w = ${ld.src}[(b * ${len} + ${base} + ${r}) * ${ld.dim} + ${v}]${ld.scaled ? ' * scale' : ''}; }`,
      `    ${L.at(ld.dst, side, v, r)} = w;`,
      '  }',
    );
  }
  out.push('}');
  return out.map((s) => ind + s);
}

/** Each query row's (lse, Δ) of the tile from `base`. */
const loadRowStats = (base: string, ind: string) =>
  `${ind}if (lid < BQ) { Rs[lid] = select(vec2f(0.0), RD[b * lq + min(${base} + lid, lq - 1u)], ${base} + lid < lq); }`;

/** A zeroed RM×RN register block. Explicitly zeroed: some compilers hoist it out of the loop and skip the re-initialisation. */
const zeroBlock = (name: string, ind: string) => [
  `${ind}var ${name}: array<array<f32, RN>, RM>;`,
  `${ind}for (var a = 0u; a < RM; a++) { for (var n = 0u; n < RN; n++) { ${name}[a][n] = 0.0; } }`,
];

/** acc[a][n] += Σ_d A[d][row a] · B[d][key n] over the dimension `dim` of the two tiles. */
function scoreGemm(L: Layout, acc: string, A: string, B: string, dim: 'D' | 'DV', ind: string): string[] {
  const reads = L.wide
    ? [`  let qa = ${A}[d * PS + ty];`, `  let kb = ${B}[d * PS + tx];`]
    : [
      '  var qa: array<f32, RM>;',
      '  var kb: array<f32, RN>;',
      `  for (var a = 0u; a < RM; a++) { qa[a] = ${L.at(A, 'q', 'd', L.row('a'))}; }`,
      `  for (var n = 0u; n < RN; n++) { kb[n] = ${L.at(B, 'k', 'd', L.key('n'))}; }`,
    ];
  return [
    `for (var d = 0u; d < ${dim}; d++) {`,
    ...reads,
    '  for (var a = 0u; a < RM; a++) {',
    `    for (var n = 0u; n < RN; n++) { ${acc}[a][n] = fma(qa[a], kb[n], ${acc}[a][n]); }`,
    '  }',
    '}',
  ].map((s) => ind + s);
}

/** The block's masked logit of (query base + row(a), key kbase + key(n)). */
const logitOf = (L: Layout, base: string, kbase: string) =>
  `logit(s[a][n], min(${base} + i, lq - 1u), ${kbase} + ${L.key('n')}, lk, causal, mb)`;

/**
 * Backward: P (into s) and dS = P ∘ (dP − Δ) (into dp) of the block from the saved (lse, Δ) of each row;
 * zero for rows past Lq.
 */
function probBlock(L: Layout, base: string, kbase: string, ind: string): string[] {
  return [
    'for (var a = 0u; a < RM; a++) {',
    `  let i = ${L.row('a')};`,
    '  let rd = Rs[i];',
    `  let ok = ${base} + i < lq;`,
    '  for (var n = 0u; n < RN; n++) {',
    `    let p = select(0.0, prob(${logitOf(L, base, kbase)}, rd.x), ok);`,
    '    s[a][n] = p;',
    '    dp[a][n] = p * (dp[a][n] - rd.y);',
    '  }',
    '}',
  ].map((s) => ind + s);
}

/**
 * A register block into workgroup memory for the accumulation: narrow [row][key] (stride KS); wide
 * `byKey` as [key][row group] (VM), else [row][key group] (VN).
 */
function storeBlock(L: Layout, dst: string, block: string, byKey: boolean, ind: string): string[] {
  if (!L.wide) {
    return [`for (var a = 0u; a < RM; a++) { for (var n = 0u; n < RN; n++) { ${dst}[(${L.row('a')}) * KS + ${L.key('n')}] = ${block}[a][n]; } }`]
      .map((s) => ind + s);
  }
  const [outer, inner, type, at] = byKey
    ? ['n', 'a', 'VM', `(tx * RN + n) * PS + ty`]
    : ['a', 'n', 'VN', `(ty * RM + a) * PS + tx`];
  return [
    `for (var ${outer} = 0u; ${outer} < ${outer === 'n' ? 'RN' : 'RM'}; ${outer}++) {`,
    `  var v: ${type};`,
    `  for (var ${inner} = 0u; ${inner} < ${inner === 'n' ? 'RN' : 'RM'}; ${inner}++) { v[${inner}] = ${block}[a][n]; }`,
    `  ${dst}[${at}] = v;`,
    '}',
  ].map((s) => ind + s);
}

/**
 * acc[a][c] (rows row(a), columns tx + T·c) += Σ_key W[row][key] · tile[column][key] over the tile's BK
 * keys, W stored by storeBlock (wide: byKey); `rowSum` also sums W per row.
 */
function accumulate(L: Layout, o: { acc: string; W: string; tile: string; cols: string; dim: string; rowSum?: string }, ind: string): string[] {
  const col = `min(tx + ${L.T}u * c, ${o.dim} - 1u)`;
  if (!L.wide) {
    return [
      'for (var j = 0u; j < nBK; j++) {',
      '  var w: array<f32, RM>;',
      `  for (var a = 0u; a < RM; a++) { w[a] = ${o.W}[(${L.row('a')}) * KS + j]; }`,
      ...(o.rowSum ? [`  for (var a = 0u; a < RM; a++) { ${o.rowSum}[a] += w[a]; }`] : []),
      `  for (var c = 0u; c < ${o.cols}; c++) {`,
      `    let t = ${o.tile}[${col} * KS + j];`,
      `    for (var a = 0u; a < RM; a++) { ${o.acc}[a][c] = fma(w[a], t, ${o.acc}[a][c]); }`,
      '  }',
      '}',
    ].map((s) => ind + s);
  }
  return [
    'for (var g = 0u; g < 16u; g++) {',
    '  var w: array<VM, RN>;',
    `  for (var n = 0u; n < RN; n++) { w[n] = ${o.W}[(g * RN + n) * PS + ty]; }`,
    ...(o.rowSum ? [`  for (var n = 0u; n < RN; n++) { for (var a = 0u; a < RM; a++) { ${o.rowSum}[a] += w[n][a]; } }`] : []),
    `  for (var c = 0u; c < ${o.cols}; c++) {`,
    `    let t = ${o.tile}[${col} * PS + g];`,
    '    for (var n = 0u; n < RN; n++) {',
    `      for (var a = 0u; a < RM; a++) { ${o.acc}[a][c] = fma(w[n][a], t[n], ${o.acc}[a][c]); }`,
    '    }',
    '  }',
    '}',
  ].map((s) => ind + s);
}

/**
 * dkv: acc[e][c] (keys slot(ty, e), columns tx + T·c) += Σ_query W[query][key] · tile[column][query]
 * over the query tile, W stored by storeBlock (wide: by query).
 */
function accumulateByKey(L: Layout, o: { acc: string; W: string; tile: string; cols: string; dim: string }, ind: string): string[] {
  const col = `min(tx + ${L.T}u * c, ${o.dim} - 1u)`;
  if (!L.wide) {
    return [
      'for (var i = 0u; i < iEnd; i++) {',
      '  var w: array<f32, RN>;',
      `  for (var e = 0u; e < RN; e++) { w[e] = ${o.W}[i * KS + ty + 8u * e]; }`,
      `  for (var c = 0u; c < ${o.cols}; c++) {`,
      `    let t = ${o.tile}[${col} * QS + i];`,
      `    for (var e = 0u; e < RN; e++) { ${o.acc}[e][c] = fma(w[e], t, ${o.acc}[e][c]); }`,
      '  }',
      '}',
    ].map((s) => ind + s);
  }
  return [
    'for (var g = 0u; g < 16u; g++) {',
    '  var w: array<VN, RM>;',
    `  for (var a = 0u; a < RM; a++) { w[a] = ${o.W}[(g * RM + a) * PS + ty]; }`,
    `  for (var c = 0u; c < ${o.cols}; c++) {`,
    `    let t = ${o.tile}[${col} * PS + g];`,
    '    for (var a = 0u; a < RM; a++) {',
    `      for (var n = 0u; n < RN; n++) { ${o.acc}[n][c] = fma(w[a][n], t[a], ${o.acc}[n][c]); }`,
    '    }',
    '  }',
    '}',
  ].map((s) => ind + s);
}

/** Zeroed per-thread accumulators: `rows` rows of `cols` columns. */
const accumulators = (name: string, rows: string, cols: string) => [
  `  var ${name}: array<array<f32, ${cols}>, ${rows}>;`,
  `  for (var r = 0u; r < ${rows}; r++) { for (var c = 0u; c < ${cols}; c++) { ${name}[r][c] = 0.0; } }`,
];

/** Writes columns tx + T·c < dim of one row: `target(col)` = value(c). */
const storeColumns = (L: Layout, cols: string, dim: string, target: string, value: string, ind: string) => [
  `${ind}for (var c = 0u; c < ${cols}; c++) {`,
  `${ind}  let col = tx + ${L.T}u * c;`,
  `${ind}  if (col < ${dim}) { ${target} = ${value}; }`,
  `${ind}}`,
];

// ---------------------------------------------------------------------------------------------------
// The three kernels

function forward(L: Layout): { bindings: string[]; tiles: string[]; body: string[] } {
  const ind = '    ';
  const rowMax = L.wide
    ? [
      `${ind}Pt[tx * PS + ty] = mx;`,
      `${ind}workgroupBarrier();`,
      `${ind}var mt: VM = mx;`,
      `${ind}for (var t = 0u; t < 16u; t++) { mt = max(mt, Pt[t * PS + ty]); }`,
      `${ind}workgroupBarrier(); // P goes where the maxima were`,
    ]
    : [
      `${ind}for (var a = 0u; a < RM; a++) { Mx[(ty + 8u * a) * 8u + tx] = mx[a]; }`,
      `${ind}workgroupBarrier();`,
      `${ind}var mt = mx;`,
      `${ind}for (var a = 0u; a < RM; a++) { for (var t = 0u; t < 8u; t++) { mt[a] = max(mt[a], Mx[(ty + 8u * a) * 8u + t]); } }`,
    ];
  return {
    bindings: [
      'var<private> NAN_BITS: u32 = 0x7fc00000u; // a variable: a NaN constant would not compile',
      '@group(0) @binding(4) var<storage, read_write> O: array<f32>;   // [B, Lq, DV]',
      '@group(0) @binding(5) var<storage, read_write> LSE: array<f32>; // [B, Lq]',
    ],
    tiles: [
      L.tile('Qt', 'q', 'DA', 'Qᵀ·scale [d][query]'),
      L.tile('KV', 'k', 'max(DA, DVA)', 'Kᵀ [d][key], then Vᵀ [c][key]'),
      L.wide
        ? 'var<workgroup> Pt: array<VM, BK * PS>; // row maxima [tx][row group], then P [key][row group]'
        : 'var<workgroup> Ps: array<f32, BQ * KS>; // P [query][key]\nvar<workgroup> Mx: array<f32, BQ * 8u>; // row maxima per thread [query][tx]',
    ],
    body: [
      '  let r0 = wid.x * BQ;',
      ...loadTiles(L, 'q', 'r0', [{ dst: 'Qt', src: 'Q', dim: 'D', scaled: true }], '  '),
      '  // Running max m and sum l of each of the thread\'s rows (the T threads of a row hold the same values).',
      '  var m: array<f32, RM>;',
      '  var l: array<f32, RM>;',
      '  for (var a = 0u; a < RM; a++) { m[a] = ninf; l[a] = 0.0; }',
      ...accumulators('acc', 'RM', 'CV'),
      '  var kEnd = lk;',
      '  if (causal) { kEnd = min(lk, min(lq, r0 + BQ)); }',
      '  for (var j0 = 0u; j0 < kEnd; j0 += BK) {',
      `${ind}workgroupBarrier();`,
      ...loadTiles(L, 'k', 'j0', [{ dst: 'KV', src: 'K', dim: 'D' }], ind),
      `${ind}workgroupBarrier();`,
      ...zeroBlock('s', ind),
      ...scoreGemm(L, 's', 'Qt', 'KV', 'D', ind),
      `${ind}// Masked logits and the thread's maximum of its part of each row.`,
      `${ind}var mx: ${L.wide ? 'VM' : 'array<f32, RM>'};`,
      `${ind}for (var a = 0u; a < RM; a++) {`,
      `${ind}  let i = ${L.row('a')};`,
      `${ind}  mx[a] = ninf;`,
      `${ind}  for (var n = 0u; n < RN; n++) {`,
      `${ind}    s[a][n] = ${logitOf(L, 'r0', 'j0')};`,
      `${ind}    mx[a] = max(mx[a], s[a][n]);`,
      `${ind}  }`,
      `${ind}}`,
      ...rowMax,
      `${ind}// The rows' new maxima, the rescale of what was summed so far, P = exp(s − m).`,
      `${ind}var alpha: array<f32, RM>;`,
      `${ind}for (var a = 0u; a < RM; a++) {`,
      `${ind}  let mn = max(m[a], mt[a]);`,
      `${ind}  alpha[a] = select(exp(m[a] - mn), 0.0, m[a] == ninf);`,
      `${ind}  m[a] = mn;`,
      `${ind}  for (var n = 0u; n < RN; n++) { s[a][n] = select(exp(s[a][n] - mn), 0.0, s[a][n] == ninf); }`,
      `${ind}}`,
      ...storeBlock(L, L.wide ? 'Pt' : 'Ps', 's', true, ind),
      ...loadTiles(L, 'k', 'j0', [{ dst: 'KV', src: 'V', dim: 'DV' }], ind),
      `${ind}workgroupBarrier();`,
      `${ind}for (var a = 0u; a < RM; a++) {`,
      `${ind}  l[a] *= alpha[a];`,
      `${ind}  for (var c = 0u; c < CV; c++) { acc[a][c] *= alpha[a]; }`,
      `${ind}}`,
      ...accumulate(L, { acc: 'acc', W: L.wide ? 'Pt' : 'Ps', tile: 'KV', cols: 'CV', dim: 'DV', rowSum: 'l' }, ind),
      '  }',
      '  let nan = bitcast<f32>(NAN_BITS);',
      '  for (var a = 0u; a < RM; a++) {',
      `    let i = ${L.row('a')};`,
      '    if (r0 + i >= lq) { continue; }',
      '    let bad = !(l[a] > 0.0);',
      '    let inv = 1.0 / l[a];',
      ...storeColumns(L, 'CV', 'DV', 'O[(b * lq + r0 + i) * DV + col]', 'select(acc[a][c] * inv, nan, bad)', '    '),
      '    if (tx == 0u) { LSE[b * lq + r0 + i] = select(m[a] + log(l[a]), nan, bad); }',
      '  }',
    ],
  };
}

function backwardDq(L: Layout): { bindings: string[]; tiles: string[]; body: string[] } {
  const ind = '    ';
  return {
    bindings: ['@group(0) @binding(6) var<storage, read_write> DQ: array<f32>; // [B, Lq, D]'],
    tiles: [
      L.tile('Qt', 'q', 'DA', 'Qᵀ·scale [d][query]'),
      L.tile('Gt', 'q', 'DVA', 'dOᵀ [c][query]'),
      L.tile('Kt', 'k', 'DA', 'Kᵀ [d][key]'),
      L.tile('Vt', 'k', 'DVA', 'Vᵀ [c][key]'),
      L.wide ? 'var<workgroup> Ds: array<VM, BK * PS>; // dS [key][row group]' : 'var<workgroup> Ds: array<f32, BQ * KS>; // dS [query][key]',
      'var<workgroup> Rs: array<vec2f, BQ>; // (lse, Δ) of the rows',
    ],
    body: [
      '  let r0 = wid.x * BQ;',
      ...loadTiles(L, 'q', 'r0', [{ dst: 'Qt', src: 'Q', dim: 'D', scaled: true }, { dst: 'Gt', src: 'G', dim: 'DV' }], '  '),
      loadRowStats('r0', '  '),
      ...accumulators('dq', 'RM', 'CD'),
      '  var kEnd = lk;',
      '  if (causal) { kEnd = min(lk, min(lq, r0 + BQ)); }',
      '  for (var j0 = 0u; j0 < kEnd; j0 += BK) {',
      `${ind}workgroupBarrier();`,
      ...loadTiles(L, 'k', 'j0', [{ dst: 'Kt', src: 'K', dim: 'D' }, { dst: 'Vt', src: 'V', dim: 'DV' }], ind),
      `${ind}workgroupBarrier();`,
      ...zeroBlock('s', ind),
      ...zeroBlock('dp', ind),
      ...scoreGemm(L, 's', 'Qt', 'Kt', 'D', ind),
      ...scoreGemm(L, 'dp', 'Gt', 'Vt', 'DV', ind),
      ...probBlock(L, 'r0', 'j0', ind),
      ...storeBlock(L, 'Ds', 'dp', true, ind),
      `${ind}workgroupBarrier();`,
      ...accumulate(L, { acc: 'dq', W: 'Ds', tile: 'Kt', cols: 'CD', dim: 'D' }, ind),
      '  }',
      '  for (var a = 0u; a < RM; a++) {',
      `    let i = ${L.row('a')};`,
      '    if (r0 + i >= lq) { continue; }',
      ...storeColumns(L, 'CD', 'D', 'DQ[(b * lq + r0 + i) * D + col]', 'dq[a][c] * scale', '    '),
      '  }',
    ],
  };
}

function backwardDkv(L: Layout): { bindings: string[]; tiles: string[]; body: string[] } {
  const ind = '    ';
  // Narrow keeps P and dS in two arrays (fewer barriers, which cost most on CPU adapters); wide puts
  // dS where P was (less workgroup memory).
  const dsStep = L.wide
    ? [`${ind}workgroupBarrier();`, ...storeBlock(L, 'Pk', 'dp', false, ind), `${ind}workgroupBarrier();`]
    : [];
  return {
    bindings: ['@group(0) @binding(6) var<storage, read_write> DKV: array<f32>; // dK [B, Lk, D] then dV [B, Lk, DV]'],
    tiles: [
      L.tile('Kt', 'k', 'DA', 'Kᵀ·scale [d][key]'),
      L.tile('Vt', 'k', 'DVA', 'Vᵀ [c][key]'),
      L.tile('Qt', 'q', 'DA', 'Qᵀ [d][query]'),
      L.tile('Gt', 'q', 'DVA', 'dOᵀ [c][query]'),
      L.wide
        ? 'var<workgroup> Pk: array<VN, BQ * PS>; // P, then dS: [query][key group]'
        : 'var<workgroup> Pk: array<f32, BQ * KS>; // P [query][key]\nvar<workgroup> Ds: array<f32, BQ * KS>; // dS [query][key]',
      'var<workgroup> Rs: array<vec2f, BQ>; // (lse, Δ) of the rows',
    ],
    body: [
      '  let c0 = wid.x * BK;',
      ...loadTiles(L, 'k', 'c0', [{ dst: 'Kt', src: 'K', dim: 'D', scaled: true }, { dst: 'Vt', src: 'V', dim: 'DV' }], '  '),
      ...accumulators('dk', 'RN', 'CD'),
      ...accumulators('dv', 'RN', 'CV'),
      '  var iStart = 0u;',
      '  if (causal) { iStart = c0; }',
      '  for (var i0 = iStart; i0 < lq; i0 += BQ) {',
      `${ind}workgroupBarrier();`,
      ...loadTiles(L, 'q', 'i0', [{ dst: 'Qt', src: 'Q', dim: 'D' }, { dst: 'Gt', src: 'G', dim: 'DV' }], ind),
      loadRowStats('i0', ind),
      `${ind}workgroupBarrier();`,
      ...zeroBlock('s', ind),
      ...zeroBlock('dp', ind),
      ...scoreGemm(L, 's', 'Qt', 'Kt', 'D', ind),
      ...scoreGemm(L, 'dp', 'Gt', 'Vt', 'DV', ind),
      ...probBlock(L, 'i0', 'c0', ind),
      ...storeBlock(L, 'Pk', 's', false, ind),
      ...(L.wide ? [] : storeBlock(L, 'Ds', 'dp', false, ind)),
      `${ind}workgroupBarrier();`,
      ...(L.wide ? [] : [`${ind}let iEnd = min(BQ, lq - i0);`]),
      ...accumulateByKey(L, { acc: 'dv', W: 'Pk', tile: 'Gt', cols: 'CV', dim: 'DV' }, ind),
      ...dsStep,
      ...accumulateByKey(L, { acc: 'dk', W: L.wide ? 'Pk' : 'Ds', tile: 'Qt', cols: 'CD', dim: 'D' }, ind),
      '  }',
      '  for (var e = 0u; e < RN; e++) {',
      `    let j = c0 + ${L.slot('ty', 'RN', 'e')};`,
      '    if (j >= lk) { continue; }',
      ...storeColumns(L, 'CD', 'D', 'DKV[(b * lk + j) * D + col]', 'dk[e][c] * scale', '    '),
      ...storeColumns(L, 'CV', 'DV', 'DKV[nb * lk * D + (b * lk + j) * DV + col]', 'dv[e][c]', '    '),
      '  }',
    ],
  };
}

function build(o: TiledShape): string {
  const L = new Layout(o.family);
  const T = L.T;
  const k = o.kind === 'fwd' ? forward(L) : o.kind === 'dq' ? backwardDq(L) : backwardDkv(L);
  const bwd = o.kind !== 'fwd';
  const layout = L.wide
    ? [`alias VM = vec${o.RM}f;`, `alias VN = vec${o.RN}f;`, 'const PS: u32 = 17u; // padded stride of the vector tiles']
    : ['const QS: u32 = BQ + 1u; // odd strides of the scalar tiles', 'const KS: u32 = BK + 1u;'];
  const inputs = bwd
    ? [
      '@group(0) @binding(4) var<storage, read> G: array<f32>;   // dO [B, Lq, DV]',
      '@group(0) @binding(5) var<storage, read> RD: array<vec2f>; // [B, Lq] (lse, Δ = rowsum(dO ∘ O))',
    ]
    : [];
  const paramsBinding = 4 + [...inputs, ...k.bindings].filter((b) => b.includes('@binding')).length;
  return [
    `// ${LABELS[o.kind]}, '${o.family}' family: generated by src/ops/kernels/attention-tiled.ts (read it for the algorithm).`,
    `const RM: u32 = ${o.RM}u;`,
    `const RN: u32 = ${o.RN}u;`,
    `const DA: u32 = ${o.DA}u;`,
    `const DVA: u32 = ${o.DVA}u;`,
    `const BQ: u32 = ${T}u * RM;`,
    `const BK: u32 = ${T}u * RN;`,
    `const CD: u32 = ${Math.ceil(o.DA / T)}u; // dQ/dK columns per thread`,
    `const CV: u32 = ${Math.ceil(o.DVA / T)}u; // O/dV columns per thread`,
    ...layout,
    '',
    '@group(0) @binding(0) var<storage, read> Q: array<f32>;   // [B, Lq, D]',
    '@group(0) @binding(1) var<storage, read> K: array<f32>;   // [B, Lk, D]',
    '@group(0) @binding(2) var<storage, read> V: array<f32>;   // [B, Lk, DV]',
    '@group(0) @binding(3) var<storage, read> M: array<f32>;   // mask, strided (bound to Q without a mask)',
    ...inputs,
    ...k.bindings,
    ATTENTION_PARAMS.wgsl,
    `@group(0) @binding(${paramsBinding}) var<storage, read> params: Params;`,
    '',
    ...k.tiles,
    '',
    include('attention_mask'),
    ...(bwd ? ['', include('attention_prob')] : []),
    '',
    `@compute @workgroup_size(${T * T})`,
    'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {',
    include('attention_params'),
    ...(L.wide ? [] : ['  let nBK = params.keyBlocks; // = BK, read at run time so that the loops over it stay loops']),
    '  let ninf = -bitcast<f32>(INF_BITS);',
    `  let tx = lid % ${T}u;`,
    `  let ty = lid / ${T}u;`,
    '  let mb = mask_base(b);',
    ...k.body,
    '}',
    '',
  ].join('\n');
}
