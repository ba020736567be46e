// The "regs" fused attention kernels for CPU adapters (llvmpipe/lavapipe, SwiftShader): no workgroup
// memory or barriers, one subgroup per workgroup, data shared between lanes by subgroup broadcasts —
// on llvmpipe every per-lane storage load inside a loop is a gather and every barrier splits the
// shader into loops over the workgroup, so the GPU-style tiles of the 'narrow'/'wide' families run at
// a fraction of the register-blocked matmul there. Generated unrolled for the head sizes (multiples
// of 4) so that the per-lane register blocks stay registers.
import { generated, include } from '../../gpu/wgsl.js';
import { ATTENTION_PARAMS } from './attention-params.js';

const COMP = ['x', 'y', 'z', 'w'];

export interface AttentionRegsShape {
  SG: number;
  /** Rows (queries; keys for dK/dV) per workgroup, a multiple of SG. */
  TM: number;
  /** Keys (queries for dK/dV) each lane owns per tile: 4 or 8. */
  KPL: number;
  D: number;
  DV: number;
  /** A mask tensor is bound (its loads are compiled in); without one, keys past Lk and causality are plain selects. */
  mask: boolean;
}

/** Largest head size the regs kernels are generated for (their register blocks grow with it). */
export const REGS_MAX_HEAD = 128;

/** Component `q` of a per-lane block of KPL values held as KPL / 4 vec4s named `{name}_{h}`. */
const part = (name: string, q: number) => `${name}_${Math.floor(q / 4)}.${COMP[q % 4]}`;
const halves = (KPL: number) => Array.from({ length: KPL / 4 }, (_, h) => h);

/**
 * S_i (KPL / 4 vec4s over the lane's keys) = Σ_d A_i[d] · B[key, d] over the head size in vec4 chunks:
 * the TM rows of A are loaded TM / SG per lane (`aRow(slot)`) and shared by broadcast; each lane loads
 * its KPL keys' rows of B (`bRow(q)`) and transposes them in registers. A loop over the chunks, not
 * unrolled: LLVM takes tens of seconds on the unrolled form at head size 64.
 */
function scoreBlock(
  out: string[],
  o: {
    a: string; aRow: (s: number) => string; b: string; bRow: (q: number) => string;
    chunks: number; TM: number; SG: number; KPL: number; acc: string; scale?: string;
  },
  indent: string,
): void {
  const { TM, SG, KPL, chunks } = o;
  const H = halves(KPL);
  for (let i = 0; i < TM; i++) for (const h of H) out.push(`${indent}var ${o.acc}${i}_${h} = vec4f(0.0);`);
  out.push(`${indent}for (var c = 0u; c < ${chunks}u; c++) {`);
  const ind = `${indent}  `;
  for (let s = 0; s < TM / SG; s++) out.push(`${ind}let a${s} = ${o.a}[${o.aRow(s)} * ${chunks}u + c];`);
  for (let q = 0; q < KPL; q++) out.push(`${ind}let e${q} = ${o.b}[${o.bRow(q)} * ${chunks}u + c];`);
  for (const h of H) for (let d = 0; d < 4; d++) out.push(`${ind}let t${h}_${d} = vec4f(${[0, 1, 2, 3].map((q) => `e${4 * h + q}.${COMP[d]}`).join(', ')});`);
  for (let i = 0; i < TM; i++) {
    out.push(`${ind}let h${i} = subgroupBroadcast(a${Math.floor(i / SG)}, ${i % SG}u);`);
    for (let d = 0; d < 4; d++) for (const h of H) out.push(`${ind}${o.acc}${i}_${h} = fma(vec4f(h${i}.${COMP[d]}), t${h}_${d}, ${o.acc}${i}_${h});`);
  }
  out.push(`${indent}}`);
  if (o.scale) for (let i = 0; i < TM; i++) for (const h of H) out.push(`${indent}${o.acc}${i}_${h} *= ${o.scale};`);
}

/** What accumulateBlock sums: weights `w`, rows of `r` in `chunks` vec4s, `slots` of them per lane. */
interface Accumulation { w: string; r: string; chunks: number; plan: ChunkPlan; col: string; acc: string }

/**
 * How a row of `chunks` vec4s is spread over the lanes: `slots` of SG chunks each (lane sg owns chunk
 * t·SG + sg), then, when G > 0, the chunks that remain shared by G lanes each, every one of them taking
 * KPL / G of each source lane's keys (`{acc}{i}_r`, summed over the G lanes at the end) — instead of a
 * last slot where most lanes idle (head size 40: 10 chunks, 6 of 8 lanes idle in the second slot).
 */
interface ChunkPlan { slots: number; G: number }

function chunkPlan(chunks: number, SG: number, KPL: number): ChunkPlan {
  const rest = chunks % SG;
  if (rest && SG % rest === 0 && KPL === 4 && KPL % (SG / rest) === 0) return { slots: Math.floor(chunks / SG), G: SG / rest };
  return { slots: Math.ceil(chunks / SG), G: 0 };
}

/** The accumulators of a plan: `{acc}{i}_{t}` per slot and `{acc}{i}_r` for the shared rest. */
function accumulators(out: string[], acc: string, TM: number, plan: ChunkPlan): void {
  for (let i = 0; i < TM; i++) {
    for (let t = 0; t < plan.slots; t++) out.push(`  var ${acc}${i}_${t} = vec4f(0.0);`);
    if (plan.G) out.push(`  var ${acc}${i}_r = vec4f(0.0);`);
  }
}

/** Sums the shared-rest accumulators over their G lanes (in uniform control flow, before the stores). */
function reduceRest(out: string[], acc: string, TM: number, plan: ChunkPlan): void {
  for (let i = 0; i < TM; i++) for (let x = 1; x < plan.G; x *= 2) out.push(`  ${acc}${i}_r += subgroupShuffleXor(${acc}${i}_r, ${x}u);`);
}

/**
 * acc_i,t += Σ_key w_i[key] · R[key, chunk t] over the tile's KPL·SG keys (or queries): the weights w_i
 * (KPL / 4 vec4s per lane) come from lane L by shuffle, R's rows (`rRow` with $q the index in the tile)
 * are loaded per lane in the lane's own column chunks (`{col}{t}`, and `{col}r` for the shared rest).
 */
function accumulateBlock(out: string[], a: Accumulation, o: { rRow: string; TM: number; SG: number; KPL: number }, indent: string): void {
  const { TM, KPL } = o;
  const { slots, G } = a.plan;
  out.push(`${indent}for (var L = 0u; L < ${o.SG}u; L++) {`);
  const ind = `${indent}  `;
  for (let i = 0; i < TM; i++) for (const h of halves(KPL)) out.push(`${ind}let w${i}_${h} = subgroupShuffle(${a.w}${i}_${h}, L);`);
  for (let q = 0; q < KPL; q++) {
    out.push(`${ind}let rr${q} = ${o.rRow.replace('$q', `L * ${KPL}u + ${q}u`)} * ${a.chunks}u;`);
    for (let t = 0; t < slots; t++) {
      out.push(`${ind}let r${q}_${t} = ${a.r}[rr${q} + ${a.col}${t}];`);
      for (let i = 0; i < TM; i++) out.push(`${ind}${a.acc}${i}_${t} = fma(vec4f(${part(`w${i}`, q)}), r${q}_${t}, ${a.acc}${i}_${t});`);
    }
  }
  // The shared rest: this lane's KPL / G keys of source lane L (KPL = 4: the weights are one vec4).
  for (let j = 0; j < KPL / (G || KPL); j++) {
    if (!G) break;
    out.push(`${ind}let qs${j} = sg % ${G}u + ${G * j}u;`);
    out.push(`${ind}let rs${j} = ${a.r}[${o.rRow.replace('$q', `L * ${KPL}u + qs${j}`)} * ${a.chunks}u + ${a.col}r];`);
    for (let i = 0; i < TM; i++) out.push(`${ind}${a.acc}${i}_r = fma(vec4f(w${i}_0[qs${j}]), rs${j}, ${a.acc}${i}_r);`);
  }
  out.push(`${indent}}`);
}

/** The logits of the lane's block through logit() (masks, causality, keys past Lk) when `masked`. */
function maskBlock(out: string[], o: AttentionRegsShape, query: (i: number, q: number) => string, keyOf: (i: number, q: number) => string): void {
  const { TM, KPL } = o;
  out.push('    if (masked) {');
  for (let i = 0; i < TM; i++) {
    for (let q = 0; q < KPL; q++) {
      const s = part(`s${i}`, q);
      if (o.mask) out.push(`      ${s} = logit(${s}, ${query(i, q)}, ${keyOf(i, q)}, lk, causal, mb);`);
      else out.push(`      ${s} = select(${s}, ninf, ${keyOf(i, q)} >= lk || (causal && ${keyOf(i, q)} > ${query(i, q)}));`);
    }
  }
  out.push('    }');
}

/** `{name}{s}`: the flat row of the lane's slot s among TM rows from `first` (clamped to the last of `len`). */
function laneRows(out: string[], name: string, first: string, len: string, TM: number, SG: number): void {
  for (let s = 0; s < TM / SG; s++) out.push(`  let ${name}${s} = b * ${len} + min(${first} + ${s * SG}u + sg, ${len} - 1u);`);
}

/** `{name}{t}`: the lane's vec4 column chunks t·SG + sg of a row of `chunks` (clamped), `{name}r` its shared-rest chunk. */
function laneChunks(out: string[], name: string, chunks: number, SG: number, KPL: number): ChunkPlan {
  const plan = chunkPlan(chunks, SG, KPL);
  for (let t = 0; t < plan.slots; t++) out.push(`  let ${name}${t} = min(${t * SG}u + sg, ${chunks - 1}u);`);
  if (plan.G) out.push(`  let ${name}r = ${plan.slots * SG}u + sg / ${plan.G}u;`);
  return plan;
}

/** `{name}{q}`: the flat rows of the lane's KPL keys (or queries) from `first` (clamped). */
function tileRows(out: string[], name: string, first: string, len: string, KPL: number): void {
  for (let q = 0; q < KPL; q++) out.push(`    let ${name}${q} = b * ${len} + min(${first} + ${q}u, ${len} - 1u);`);
}

/** Per row i of the block that exists: `row` is its flat index; `lines(i)` its stores. */
function storeRows(out: string[], first: string, len: string, TM: number, lines: (i: number) => string[]): void {
  for (let i = 0; i < TM; i++) {
    out.push(`  if (${first} + ${i}u < ${len}) {`, `    let row = b * ${len} + ${first} + ${i}u;`, ...lines(i).map((l) => `    ${l}`), '  }');
  }
}

/** The stores of the lane's chunks of one row: dst[base + row·chunks + chunk] = value(t) (t: slot, or 'r'). */
function storeChunks(dst: string, base: string, chunks: number, plan: ChunkPlan, SG: number, col: string, value: (t: number | 'r') => string): string[] {
  const lines = Array.from(
    { length: plan.slots },
    (_, t) => `if (${t * SG}u + sg < ${chunks}u) { ${dst}[${base}row * ${chunks}u + ${col}${t}] = ${value(t)}; }`,
  );
  if (plan.G) lines.push(`if (sg % ${plan.G}u == 0u) { ${dst}[${base}row * ${chunks}u + ${col}r] = ${value('r')}; }`);
  return lines;
}

const LABELS: Record<string, string> = {
  fwd: 'attention_fwd_regs', dq: 'attention_bwd_dq_regs', dkv: 'attention_bwd_dkv_regs', bwd: 'attention_bwd_regs',
};

function cached(key: string, build: () => string): string {
  return generated('attention_regs', key, LABELS[key.slice(0, key.indexOf('{'))], build);
}

type RegsKind = 'attention_fwd_regs' | 'attention_bwd_dq_regs' | 'attention_bwd_dkv_regs' | 'attention_bwd_regs';

/** Each regs kernel's bindings after the shared inputs (Q, K, V, M at 0-3). */
const OUTPUTS: Record<RegsKind, string[]> = {
  attention_fwd_regs: [
    '@group(0) @binding(4) var<storage, read_write> O: array<vec4f>;  // [B, Lq, DV]',
    '@group(0) @binding(5) var<storage, read_write> LSE: array<f32>;  // [B, Lq]',
  ],
  attention_bwd_dq_regs: [
    '@group(0) @binding(4) var<storage, read> G: array<vec4f>;  // dO [B, Lq, DV]',
    '@group(0) @binding(5) var<storage, read> RD: array<vec2f>; // (lse, Δ) per query row',
    '@group(0) @binding(6) var<storage, read_write> DQ: array<vec4f>; // [B, Lq, D]',
  ],
  attention_bwd_dkv_regs: [
    '@group(0) @binding(4) var<storage, read> G: array<vec4f>;  // dO [B, Lq, DV]',
    '@group(0) @binding(5) var<storage, read> RD: array<vec2f>; // (lse, Δ) per query row',
    '@group(0) @binding(6) var<storage, read_write> DKV: array<vec4f>; // dK [B, Lk, D], then dV [B, Lk, DV]',
  ],
  attention_bwd_regs: [
    '@group(0) @binding(4) var<storage, read> G: array<vec4f>;  // dO [B, Lq, DV]',
    '@group(0) @binding(5) var<storage, read> RD: array<vec2f>; // (lse, Δ) per query row',
    '@group(0) @binding(6) var<storage, read_write> DKV: array<vec4f>; // dK [B, Lk, D], then dV [B, Lk, DV]',
    '@group(0) @binding(7) var<storage, read_write> DQP: array<vec4f>; // [W, B, Lq, D]: dQ / scale per slot',
  ],
};

/**
 * The query-block walk (forward, dQ): TM query rows from r0 walk the keys in tiles of KT = KPL·SG, lane
 * sg owning keys kj .. kj + KPL − 1; `masked` when a tile needs logit() (keys past Lk, causality, a mask).
 */
function keyTiles(o: AttentionRegsShape, setup: string[], tile: string[], store: string[]): string[] {
  const KT = o.KPL * o.SG;
  return [
    `  let r0 = wid.x * ${o.TM}u;`,
    '  var kEnd = lk;',
    `  if (causal) { kEnd = min(lk, r0 + ${o.TM}u); }`,
    ...setup,
    `  for (var j0 = 0u; j0 < kEnd; j0 += ${KT}u) {`,
    `    let kj = j0 + sg * ${o.KPL}u;`,
    `    let masked = j0 + ${KT}u > lk || causal || MKIND != 0u;`,
    ...tile,
    '  }',
    ...store,
  ];
}

/**
 * The key-block walk (dK/dV, the one-pass backward): workgroup x takes the blocks of TM keys x,
 * x + num_workgroups.x, … (one each for dK/dV, whose grid covers them all) and walks the queries in
 * tiles of KT = KPL·SG, lane sg owning queries qi .. qi + KPL − 1.
 */
function queryTiles(o: AttentionRegsShape, setup: string[], tile: string[], store: string[]): string[] {
  const KT = o.KPL * o.SG;
  return [
    `  let blocks = (lk + ${o.TM}u - 1u) / ${o.TM}u;`,
    '  for (var kb = wid.x; kb < blocks; kb += nwg.x) {',
    `    let k0 = kb * ${o.TM}u;`,
    '    // Causal: queries before the block\'s first key see none of its keys.',
    '    var iBegin = 0u;',
    `    if (causal) { iBegin = (k0 / ${KT}u) * ${KT}u; }`,
    ...setup,
    `    for (var i0 = iBegin; i0 < lq; i0 += ${KT}u) {`,
    `      let qi = i0 + sg * ${o.KPL}u;`,
    ...tile,
    '    }',
    ...store,
    '  }',
  ];
}

/** A whole regs kernel: bindings, parameters, the mask helpers, the shared start and the kind's walk. */
function finish(name: RegsKind, o: AttentionRegsShape, setup: string[], tile: string[], store: string[]): string {
  const walk = name === 'attention_fwd_regs' || name === 'attention_bwd_dq_regs' ? keyTiles : queryTiles;
  const paramsBinding = 4 + OUTPUTS[name].length;
  return [
    'enable subgroups;',
    ...(name === 'attention_fwd_regs' ? ['var<private> NAN_BITS: u32 = 0x7fc00000u;'] : []),
    '',
    include('attention_regs_inputs'),
    ...OUTPUTS[name],
    ATTENTION_PARAMS.wgsl,
    `@group(0) @binding(${paramsBinding}) var<storage, read> params: Params;`,
    '',
    include('attention_mask'),
    '',
    `@compute @workgroup_size(${o.SG})`,
    'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sg: u32) {',
    include('attention_params'),
    include('attention_regs_start'),
    ...(name === 'attention_bwd_regs' ? [`  let slot = wid.x * nb * lq * ${o.D / 4}u;`] : []),
    ...walk(o, setup, tile, store),
    '}',
    '',
  ].join('\n');
}

/** The forward kernel . */
export function attentionFwdRegsShader(o: AttentionRegsShape): string {
  return cached(`fwd${JSON.stringify(o)}`, () => {
    const { SG, TM, KPL, D, DV } = o;
    const H = halves(KPL);
    const [D4, V4] = [D / 4, DV / 4];
    const setup: string[] = [];
    const tile: string[] = [];
    laneRows(setup, 'qrow', 'r0', 'lq', TM, SG);
    const VP = laneChunks(setup, 'col', V4, SG, KPL); // O column chunks per lane
    for (let i = 0; i < TM; i++) setup.push(`  var m${i} = ninf;`, `  var l${i} = 0.0;`);
    accumulators(setup, 'o', TM, VP);
    tileRows(tile, 'kr', 'kj', 'lk', KPL);
    scoreBlock(tile, { a: 'Q', aRow: (s) => `qrow${s}`, b: 'K', bRow: (q) => `kr${q}`, chunks: D4, TM, SG, KPL, acc: 's', scale: 'scale' }, '    ');
    maskBlock(tile, o, (i) => `r0 + ${i}u`, (_, q) => `kj + ${q}u`);
    // Online softmax: subgroup max / sum over the tile's KPL·SG keys.
    const sum4 = (v: string) => `${v}.x + ${v}.y + ${v}.z + ${v}.w`;
    for (let i = 0; i < TM; i++) {
      const lmax = H.map((h) => `max(max(s${i}_${h}.x, s${i}_${h}.y), max(s${i}_${h}.z, s${i}_${h}.w))`).reduce((x, y) => `max(${x}, ${y})`);
      tile.push(`    let mn${i} = max(m${i}, subgroupMax(${lmax}));`);
      tile.push(`    let live${i} = mn${i} > ninf;`);
      tile.push(`    let al${i} = select(1.0, exp(m${i} - mn${i}), live${i});`);
      for (const h of H) tile.push(`    let p${i}_${h} = select(vec4f(0.0), exp(s${i}_${h} - vec4f(mn${i})), live${i});`);
      tile.push(`    l${i} = l${i} * al${i} + subgroupAdd(${H.map((h) => sum4(`p${i}_${h}`)).join(' + ')});`);
      tile.push(`    m${i} = mn${i};`);
      for (let t = 0; t < VP.slots; t++) tile.push(`    o${i}_${t} *= al${i};`);
      if (VP.G) tile.push(`    o${i}_r *= al${i};`);
    }
    accumulateBlock(tile, { w: 'p', r: 'V', chunks: V4, plan: VP, col: 'col', acc: 'o' }, { rRow: '(b * lk + min(j0 + $q, lk - 1u))', TM, SG, KPL }, '    ');
    const store: string[] = [];
    reduceRest(store, 'o', TM, VP);
    storeRows(store, 'r0', 'lq', TM, (i) => [
      `let inv = 1.0 / l${i};`,
      ...storeChunks('O', '', V4, VP, SG, 'col', (t) => `o${i}_${t} * inv`),
      `if (sg == 0u) { LSE[row] = select(bitcast<f32>(NAN_BITS), m${i} + log(l${i}), l${i} > 0.0); }`,
    ]);
    return finish('attention_fwd_regs', o, setup, tile, store);
  });
}

/** The dQ backward kernel (attention_bwd_dq_regs). */
export function attentionDqRegsShader(o: AttentionRegsShape): string {
  return cached(`dq${JSON.stringify(o)}`, () => {
    const { SG, TM, KPL, D, DV } = o;
    const [D4, V4] = [D / 4, DV / 4];
    const setup: string[] = [];
    const tile: string[] = [];
    laneRows(setup, 'qrow', 'r0', 'lq', TM, SG);
    const DP = laneChunks(setup, 'col', D4, SG, KPL); // dQ column chunks per lane
    for (let i = 0; i < TM; i++) setup.push(`  let rd${i} = RD[b * lq + min(r0 + ${i}u, lq - 1u)];`);
    accumulators(setup, 'g', TM, DP);
    tileRows(tile, 'kr', 'kj', 'lk', KPL);
    scoreBlock(tile, { a: 'Q', aRow: (s) => `qrow${s}`, b: 'K', bRow: (q) => `kr${q}`, chunks: D4, TM, SG, KPL, acc: 's', scale: 'scale' }, '    ');
    maskBlock(tile, o, (i) => `r0 + ${i}u`, (_, q) => `kj + ${q}u`);
    scoreBlock(tile, { a: 'G', aRow: (s) => `qrow${s}`, b: 'V', bRow: (q) => `kr${q}`, chunks: V4, TM, SG, KPL, acc: 'dp' }, '    ');
    for (let i = 0; i < TM; i++) {
      for (const h of halves(KPL)) tile.push(`    let ds${i}_${h} = exp(s${i}_${h} - vec4f(rd${i}.x)) * (dp${i}_${h} - vec4f(rd${i}.y));`);
    }
    accumulateBlock(tile, { w: 'ds', r: 'K', chunks: D4, plan: DP, col: 'col', acc: 'g' }, { rRow: '(b * lk + min(j0 + $q, lk - 1u))', TM, SG, KPL }, '    ');
    const store: string[] = [];
    reduceRest(store, 'g', TM, DP);
    storeRows(store, 'r0', 'lq', TM, (i) => storeChunks('DQ', '', D4, DP, SG, 'col', (t) => `g${i}_${t} * scale`));
    return finish('attention_bwd_dq_regs', o, setup, tile, store);
  });
}

/**
 * The body of the dK/dV kernel; with `dq`, also the dQ partial sums of attention_bwd_regs: the
 * lane's chunks of K for the block's TM keys (`kk{i}_{t}`, zero past Lk, loaded once per block) and,
 * per tile, dQ[query, chunk] += Σ_key dSᵀ[key, query] · K[key, chunk] with dSᵀ from each source lane
 * by shuffle, added into the slot's partial sum in place. Queries past Lq are skipped: their rows are
 * the next batch·head's, which another workgroup is adding into at the same time.
 */
function dkvBody(o: AttentionRegsShape, dq: boolean): { setup: string[]; tile: string[]; store: string[] } {
  const { SG, TM, KPL, D, DV } = o;
  const H = halves(KPL);
  const [D4, V4] = [D / 4, DV / 4];
  const setup: string[] = [];
  const tile: string[] = [];
  laneRows(setup, 'krow', 'k0', 'lk', TM, SG);
  const DP = laneChunks(setup, 'dcol', D4, SG, KPL);
  const VP = laneChunks(setup, 'vcol', V4, SG, KPL);
  accumulators(setup, 'dk', TM, DP);
  accumulators(setup, 'dv', TM, VP);
  const cols = [...Array.from({ length: DP.slots }, (_, t) => String(t)), ...(DP.G ? ['r'] : [])];
  if (dq) {
    for (let i = 0; i < TM; i++) {
      for (const t of cols) setup.push(`  let kk${i}_${t} = select(vec4f(0.0), K[(b * lk + min(k0 + ${i}u, lk - 1u)) * ${D4}u + dcol${t}], k0 + ${i}u < lk);`);
    }
  }
  // The lane's KPL queries: rows (clamped), (lse, Δ), and whether they exist.
  tileRows(tile, 'qr', 'qi', 'lq', KPL);
  for (let q = 0; q < KPL; q++) tile.push(`    let rq${q} = RD[qr${q}];`);
  for (const h of H) {
    const qs = [0, 1, 2, 3].map((j) => 4 * h + j);
    tile.push(`    let lse${h} = vec4f(${qs.map((q) => `rq${q}.x`).join(', ')});`);
    tile.push(`    let dl${h} = vec4f(${qs.map((q) => `rq${q}.y`).join(', ')});`);
    tile.push(`    let live${h} = vec4<bool>(${qs.map((q) => `qi + ${q}u < lq`).join(', ')});`);
  }
  scoreBlock(tile, { a: 'K', aRow: (s) => `krow${s}`, b: 'Q', bRow: (q) => `qr${q}`, chunks: D4, TM, SG, KPL, acc: 's', scale: 'scale' }, '    ');
  tile.push('    let masked = causal || MKIND != 0u;');
  maskBlock(tile, o, (_, q) => `qi + ${q}u`, (i) => `k0 + ${i}u`);
  scoreBlock(tile, { a: 'V', aRow: (s) => `krow${s}`, b: 'G', bRow: (q) => `qr${q}`, chunks: V4, TM, SG, KPL, acc: 'dp' }, '    ');
  for (let i = 0; i < TM; i++) {
    for (const h of H) {
      tile.push(`    let pt${i}_${h} = select(vec4f(0.0), exp(s${i}_${h} - lse${h}), live${h});`);
      tile.push(`    let ds${i}_${h} = pt${i}_${h} * (dp${i}_${h} - dl${h});`);
    }
  }
  const qRow = '(b * lq + min(i0 + $q, lq - 1u))';
  // Two loops, not one over both: sharing the loop was 20-30% slower (more live registers).
  accumulateBlock(tile, { w: 'pt', r: 'G', chunks: V4, plan: VP, col: 'vcol', acc: 'dv' }, { rRow: qRow, TM, SG, KPL }, '    ');
  accumulateBlock(tile, { w: 'ds', r: 'Q', chunks: D4, plan: DP, col: 'dcol', acc: 'dk' }, { rRow: qRow, TM, SG, KPL }, '    ');
  if (dq) {
    tile.push(`    for (var L = 0u; L < ${SG}u; L++) {`);
    for (let i = 0; i < TM; i++) for (const h of H) tile.push(`      let w${i}_${h} = subgroupShuffle(ds${i}_${h}, L);`);
    const dot = (t: string, w: (i: number) => string) => Array.from({ length: TM }, (_, i) => `${w(i)} * kk${i}_${t}`).join(' + ');
    for (let q = 0; q < KPL; q++) {
      tile.push(`      if (i0 + L * ${KPL}u + ${q}u < lq) {`);
      tile.push(`        let dqr = slot + (b * lq + i0 + L * ${KPL}u + ${q}u) * ${D4}u;`);
      for (let t = 0; t < DP.slots; t++) {
        const add = `DQP[dqr + dcol${t}] += ${dot(String(t), (i) => part(`w${i}`, q))};`;
        tile.push((t + 1) * SG <= D4 ? `        ${add}` : `        if (${t * SG}u + sg < ${D4}u) { ${add} }`);
      }
      tile.push('      }');
    }
    for (let j = 0; j < (DP.G ? KPL / DP.G : 0); j++) {
      // The shared rest chunk: lane sg takes queries sg % G + G·j of source lane L (KPL = 4: one vec4 of weights).
      tile.push(`      let qs${j} = sg % ${DP.G}u + ${DP.G * j}u;`);
      tile.push(`      if (i0 + L * ${KPL}u + qs${j} < lq) {`);
      tile.push(`        DQP[slot + (b * lq + i0 + L * ${KPL}u + qs${j}) * ${D4}u + dcolr] += ${dot('r', (i) => `w${i}_0[qs${j}]`)};`);
      tile.push('      }');
    }
    tile.push('    }');
  }
  const store = [`  let vBase = nb * lk * ${D4}u;`];
  reduceRest(store, 'dk', TM, DP);
  reduceRest(store, 'dv', TM, VP);
  storeRows(store, 'k0', 'lk', TM, (i) => [
    ...storeChunks('DKV', '', D4, DP, SG, 'dcol', (t) => `dk${i}_${t} * scale`),
    ...storeChunks('DKV', 'vBase + ', V4, VP, SG, 'vcol', (t) => `dv${i}_${t}`),
  ]);
  return { setup, tile, store };
}

/** The dK/dV backward kernel (attention_bwd_dkv_regs). */
export function attentionDkvRegsShader(o: AttentionRegsShape): string {
  return cached(`dkv${JSON.stringify(o)}`, () => {
    const { setup, tile, store } = dkvBody(o, false);
    return finish('attention_bwd_dkv_regs', o, setup, tile, store);
  });
}

/** The one-pass backward kernel: dK, dV and per-slot dQ partial sums (attention_bwd_regs). */
export function attentionBwdRegsShader(o: AttentionRegsShape): string {
  return cached(`bwd${JSON.stringify(o)}`, () => {
    const { setup, tile, store } = dkvBody(o, true);
    return finish('attention_bwd_regs', o, setup, tile, store);
  });
}
