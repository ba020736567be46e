// Fused attention: the kernel choice (family and register block per kernel, the tuning flags) and the
// launches of the forward and backward passes. The kernels: the 'wide' and 'narrow' families generated
// by attention-tiled.ts, the CPU 'regs' family by attention-regs.ts. src/ops/attention.ts holds the op.
//
// Forward: a workgroup per (BQ query rows, batch·head) walks the keys in tiles of BK with an online
// softmax, saving the logsumexp. Backward (FlashAttention-2): RD_i = (lse_i, rowsum(dO_i ∘ O_i))
// (shaders/attention_bwd_pre.wgsl); a dQ kernel per query block over key tiles and a dK/dV kernel per
// key block over query tiles, both recomputing P tile by tile. Memory O(B·L·D), never O(L²).
// Three families of the same kernels:
//   'wide'   16×16 threads, vector micro-tiles from padded transposed tiles; for GPUs: up to 48 KiB of
//            workgroup memory; the blocks per kernel were picked on an H100.
//   'narrow' 8×8 threads, scalar reads: fits 16-32 KiB (large head sizes, browsers' minimum limits).
//   'regs'   for CPU adapters: one subgroup per workgroup, no workgroup memory or barriers, rows shared
//            by subgroup broadcast/shuffle (as the regs matmul); head sizes that are multiples of 4 up to
//            128, fixed-size subgroups. When dQ and dK/dV are all wanted its backward is one kernel
//            (attention_bwd_regs): the dK/dV walk also sums dS·K into a partial dQ per workgroup slot,
//            then dQ = scale·Σ partials (attention_bwd_dq_sum.wgsl).
// Pipelines are specialised on the tile shape and the head sizes (rounded up to 8 for wide/narrow); the
// sizes themselves, the mask kind and causality are run-time parameters (fewer compiles on software adapters).
import { Tensor, numelOf } from '../../autograd/tensor.js';
import { subgroupLanes } from '../../gpu/context.js';
import { defineFlag, oneOf } from '../../gpu/flags.js';
import { shader } from '../../gpu/wgsl.js';
import { broadcastStrides, grid1D, launch } from '../util.js';
import { ATTENTION_PARAMS, ATTENTION_PRE_PARAMS, DQ_SUM_PARAMS } from './attention-params.js';
import {
  attentionBwdRegsShader, attentionDkvRegsShader, attentionDqRegsShader, attentionFwdRegsShader, REGS_MAX_HEAD, type AttentionRegsShape,
} from './attention-regs.js';
import { attentionTiledShader } from './attention-tiled.js';

/** Sizes of one attention: batch shape, query and key lengths, head sizes of q/k and v. */
export interface AttentionDims { batch: number[]; lq: number; lk: number; d: number; dv: number }

type Kernel = 'fwd' | 'dq' | 'dkv';
/**
 * 'wide': 16×16 threads, vector micro-tiles read from padded transposed tiles, for GPUs. 'narrow': 8×8
 * threads with scalar reads: smaller tiles (it fits head sizes that 'wide' cannot, and the 16 KiB minimum
 * of workgroup memory). 'regs': CPU adapters with fixed-size subgroups.
 */
export type AttentionFamily = 'wide' | 'narrow' | 'regs';

/** A kernel's tile: each thread owns RM query rows and RN keys of a BQ×BK logits tile. */
export interface KernelConfig { family: AttentionFamily; RM: number; RN: number; BQ: number; BK: number; smemBytes: number }

/** Preferred blocks first; the first that fits workgroup memory (and the register budget) wins. */
const NARROW_BLOCKS: Array<[number, number]> = [[4, 4], [4, 2], [2, 4], [2, 2], [4, 1], [1, 4], [2, 1], [1, 2], [1, 1]];
// Wide blocks per kernel, fastest first on an H100 at N 4096, D 40/64 (bench/attention.ts tile sweep;
// figures in docs/engine.md).
const WIDE_BLOCKS: Record<Kernel, Array<[number, number]>> = {
  fwd: [[2, 2], [4, 4], [4, 2], [2, 4]],
  dq: [[4, 2], [2, 4], [2, 2], [4, 4]],
  dkv: [[2, 4], [4, 2], [2, 2], [4, 4]],
};
/** Accumulator floats one thread may keep (O, dQ or dK+dV columns times its rows). */
const MAX_ACC = 160;
const up8 = (n: number) => 8 * Math.ceil(n / 8);

/** Workgroup memory (floats) of a kernel, as attention-tiled.ts declares it. */
function smemFloats(family: AttentionFamily, kind: Kernel, d0: number, dv0: number, RM: number, RN: number): number {
  const d = up8(d0);
  const dv = up8(dv0);
  if (family === 'wide') {
    const BQ = 16 * RM;
    const BK = 16 * RN;
    if (kind === 'fwd') return 17 * (d * RM + Math.max(d, dv) * RN + BK * RM);
    if (kind === 'dq') return 17 * ((d + dv) * (RM + RN) + BK * RM) + 2 * BQ;
    return 17 * ((d + dv) * (RM + RN) + BQ * RN) + 2 * BQ;
  }
  const BQ = 8 * RM;
  const BK = 8 * RN;
  const qs = BQ + 1;
  const ks = BK + 1;
  if (kind === 'fwd') return d * qs + Math.max(d, dv) * ks + BQ * ks + 8 * BQ;
  if (kind === 'dq') return (d + dv) * qs + (d + dv) * ks + BQ * ks + 2 * BQ;
  return (d + dv) * ks + (d + dv) * qs + 2 * BQ * ks + 2 * BQ;
}

function accFloats(family: AttentionFamily, kind: Kernel, d: number, dv: number, RM: number, RN: number): number {
  const w = family === 'wide' ? 16 : 8;
  const cd = Math.ceil(up8(d) / w);
  const cv = Math.ceil(up8(dv) / w);
  return kind === 'fwd' ? RM * cv : kind === 'dq' ? RM * cd : RN * (cd + cv);
}

/** Register blocks [RM, RN] forced per kernel (the 'attention.blocks' flag). */
export type AttentionBlocks = Partial<Record<Kernel, [number, number]>>;
export interface AttentionRegsBlock { rowsPerLane: number; keysPerLane: 4 | 8 }

declare module '../../gpu/flags.js' {
  interface FlagValues {
    'attention.impl': 'auto' | 'fused' | 'unfused';
    'attention.family': AttentionFamily | null;
    'attention.blocks': AttentionBlocks;
    'attention.regsBlock': AttentionRegsBlock | null;
    'attention.regsSlots': number | null;
  }
}
defineFlag({
  name: 'attention.impl', default: 'auto',
  doc: "scaledDotProductAttention's 'auto' path: 'fused' or 'unfused' on every adapter " +
    "('auto': fused on GPUs, on CPU adapters from 4 MiB of logits with the regs family, 64 MiB without)",
  env: { name: 'CFLENS_ATTENTION', parse: oneOf('CFLENS_ATTENTION', ['auto', 'fused', 'unfused'] as const) },
});
defineFlag({
  name: 'attention.family', default: null,
  doc: "the fused kernels' family: 'wide', 'narrow' or 'regs' " +
    "(null: 'regs' on CPU adapters where it fits, else 'wide' on GPUs and 'narrow' on CPU adapters, whichever fits)",
});
defineFlag({ name: 'attention.blocks', default: {}, doc: 'register blocks [RM, RN] tried first per wide/narrow kernel (fwd, dq, dkv)' });
defineFlag({
  name: 'attention.regsBlock', default: null,
  doc: "the regs kernels' block {rowsPerLane 1-4, keysPerLane 4|8} (null: 2 rows, 1 with a mask tensor; 4 keys)",
});
defineFlag({
  name: 'attention.regsSlots', default: null,
  doc: 'partial-dQ slots of the regs one-pass backward (0: the separate dQ and dK/dV kernels; null: aim at 32 workgroups)',
});

/** Tile shape of a fused kernel for head sizes d, dv, or null when none fits `smemBytes`. */
export function attentionKernelConfig(
  kind: Kernel, d: number, dv: number, smemBytes = 32768, families: readonly AttentionFamily[] = ['wide', 'narrow'],
  forced: { family?: AttentionFamily | null; blocks?: AttentionBlocks } = {},
): KernelConfig | null {
  const f = forced.blocks?.[kind];
  for (const family of forced.family && forced.family !== 'regs' ? [forced.family] : families) {
    if (family === 'regs') continue;
    const list = family === 'wide' ? WIDE_BLOCKS[kind] : NARROW_BLOCKS;
    const budget = Math.min(smemBytes, family === 'wide' ? 49152 : 32768);
    for (const [RM, RN] of f ? [f, ...list] : list) {
      const bytes = 4 * smemFloats(family, kind, d, dv, RM, RN);
      const w = family === 'wide' ? 16 : 8;
      if (bytes <= budget && accFloats(family, kind, d, dv, RM, RN) <= MAX_ACC) return { family, RM, RN, BQ: w * RM, BK: w * RN, smemBytes: bytes };
    }
  }
  return null;
}

function smemBudget(t: Tensor): number {
  return t.ctx.device.limits.maxComputeWorkgroupStorageSize;
}

/** One fused attention: q, k, v broadcast to the common batch shape, the mask as given. */
export interface Fused {
  q: Tensor; k: Tensor; v: Tensor;
  mask: Tensor | null;
  maskKind: 'bool' | 'additive';
  causal: boolean;
  scale: number;
  dims: AttentionDims;
}

function fusedParams(f: Fused, BK: number): Uint32Array {
  const { batch, lq, lk, d, dv } = f.dims;
  const strides = f.mask ? broadcastStrides(f.mask.shape, [...batch, lq, lk]) : new Array<number>(batch.length + 2).fill(0);
  return ATTENTION_PARAMS.pack({
    lq, lk, scale: f.scale, causal: f.causal, maskStrideQ: strides[batch.length], maskStrideK: strides[batch.length + 1],
    batchRank: batch.length, batches: numelOf(batch), D: d, DV: dv, maskKind: f.mask ? (f.maskKind === 'bool' ? 2 : 1) : 0, keyBlocks: BK,
    dims: [...batch, ...strides.slice(0, batch.length)],
  });
}

function tiledShader(kind: Kernel, f: Fused, c: KernelConfig): string {
  return attentionTiledShader({ family: c.family === 'wide' ? 'wide' : 'narrow', kind, RM: c.RM, RN: c.RN, DA: up8(f.dims.d), DVA: up8(f.dims.dv) });
}

function grid(tiles: number, B: number): [number, number, number] {
  return [tiles, Math.min(B, 65535), Math.ceil(B / 65535)];
}

/**
 * CPU adapters (lavapipe) run the narrow kernels faster: there workgroup memory costs as much as a global
 * load. (A one-row-per-invocation family without workgroup memory was slower still: llvmpipe turns
 * every lane's load of the shared K/V rows into a gather.)
 */
const familiesFor = (t: Tensor): AttentionFamily[] => (t.ctx.caps.isCpu ? ['narrow', 'wide'] : ['wide', 'narrow']);
const forcedOf = (t: Tensor) => ({ family: t.ctx.flags.get('attention.family'), blocks: t.ctx.flags.get('attention.blocks') });

function config(kind: Kernel, f: Fused): KernelConfig {
  const c = attentionKernelConfig(kind, f.dims.d, f.dims.dv, smemBudget(f.q), familiesFor(f.q), forcedOf(f.q));
  if (!c) throw new Error(`cflens: attention: head sizes ${f.dims.d}/${f.dims.dv} are too large for the fused kernels`);
  return c;
}

/**
 * The 'regs' family (attention-regs.ts) serves CPU adapters with fixed-size subgroups, for head
 * sizes that are multiples of 4 up to REGS_MAX_HEAD (or wherever the 'attention.family' flag asks).
 */
function regsFit(t: Tensor, d: number, dv: number): boolean {
  const family = t.ctx.flags.get('attention.family');
  if (family ? family !== 'regs' : !t.ctx.caps.isCpu) return false;
  return subgroupLanes(t.ctx) >= 4 && d % 4 === 0 && dv % 4 === 0 && d <= REGS_MAX_HEAD && dv <= REGS_MAX_HEAD;
}

// The regs kernels' register block: query (key) rows and keys (queries) per lane.
// Measured on lavapipe (N 1024, D 64): 2 rows and 4 keys per lane beat 1 or 3 rows and 8 keys.
// With a mask tensor, 1 row per lane: its loads, inlined for every logit of the block, make the
// pipelines compile for tens of seconds on llvmpipe at 2 rows.
function regsShape(SG: number, f: Fused): AttentionRegsShape {
  const regsBlock = f.q.ctx.flags.get('attention.regsBlock');
  const rows = regsBlock?.rowsPerLane ?? (f.mask ? 1 : 2);
  return { SG, TM: rows * SG, KPL: regsBlock?.keysPerLane ?? 4, D: f.dims.d, DV: f.dims.dv, mask: !!f.mask };
}

// The regs one-pass backward (attention_bwd_regs) keeps a partial dQ sum per workgroup slot: it
// aims at this many workgroups over all batch·heads (enough for a CPU's threads; each slot is one more
// copy of dQ), fewer where the key blocks run out or the copies would pass the binding limit.
const BWD_TARGET_WORKGROUPS = 32;
function bwdSlots(f: Fused, TM: number): number {
  const { batch, lq, lk, d } = f.dims;
  const B = numelOf(batch);
  const cap = Math.floor(f.q.ctx.device.limits.maxStorageBufferBindingSize / (B * lq * d * 4));
  const want = f.q.ctx.flags.get('attention.regsSlots') ?? Math.max(1, Math.ceil(BWD_TARGET_WORKGROUPS / B));
  return Math.min(want, Math.ceil(lk / TM), cap);
}

/** Forward: the output [..., Lq, Dv] and the per-row logsumexp [B·Lq]. */
export function fusedForward(f: Fused): { out: Tensor; lse: Tensor } {
  const { batch, lq, dv } = f.dims;
  const B = numelOf(batch);
  const out = Tensor.empty([...batch, lq, dv], 'f32', f.q.ctx);
  const lse = Tensor.empty([B * lq], 'f32', f.q.ctx);
  if (regsFit(f.q, f.dims.d, dv)) {
    const SG = subgroupLanes(f.q.ctx);
    const shape = regsShape(SG, f);
    const code = attentionFwdRegsShader(shape);
    launch(
      f.q.ctx, code, [f.q.buffer, f.k.buffer, f.v.buffer, (f.mask ?? f.q).buffer, out.buffer, lse.buffer],
      fusedParams(f, shape.KPL * SG), grid(Math.ceil(lq / shape.TM), B),
    );
    return { out, lse };
  }
  const c = config('fwd', f);
  const code = tiledShader('fwd', f, c);
  launch(
    f.q.ctx, code, [f.q.buffer, f.k.buffer, f.v.buffer, (f.mask ?? f.q).buffer, out.buffer, lse.buffer],
    fusedParams(f, c.BK), grid(Math.ceil(lq / c.BQ), B),
  );
  return { out, lse };
}

/** Backward kernels: dQ (when wanted) and dK, dV (when wanted), from the output, its gradient and lse. */
export function fusedBackward(f: Fused, out: Tensor, lse: Tensor, g: Tensor, want: [boolean, boolean, boolean]): [Tensor | null, Tensor | null, Tensor | null] {
  const { batch, lq, lk, d, dv } = f.dims;
  const ctx = f.q.ctx;
  const B = numelOf(batch);
  const rd = Tensor.empty([B * lq, 2], 'f32', ctx);
  const pre = ATTENTION_PRE_PARAMS.pack({ rows: B * lq, DV: dv });
  launch(ctx, shader('attention_bwd_pre', {}, ATTENTION_PRE_PARAMS), [out.buffer, g.buffer, lse.buffer, rd.buffer], pre, grid1D(B * lq, 64));
  const m = (f.mask ?? f.q).buffer;
  let dq: Tensor | null = null;
  let dk: Tensor | null = null;
  let dvT: Tensor | null = null;
  const regs = regsFit(f.q, d, dv);
  const SG = regs ? subgroupLanes(ctx) : 0;
  const shape = regsShape(SG, f);
  const slots = regs && want[0] && (want[1] || want[2]) ? bwdSlots(f, shape.TM) : 0;
  if (slots > 0) {
    // One pass: dK, dV and a partial dQ per slot, then dQ = scale · Σ partials.
    const both = Tensor.empty([B * lk * (d + dv)], 'f32', ctx);
    const partial = Tensor.empty([slots * B * lq * d], 'f32', ctx);
    ctx.clearBuffer(partial.buffer, 0, partial.size * 4);
    launch(
      ctx, attentionBwdRegsShader(shape), [f.q.buffer, f.k.buffer, f.v.buffer, m, g.buffer, rd.buffer, both.buffer, partial.buffer],
      fusedParams(f, shape.KPL * SG), grid(slots, B),
    );
    dq = Tensor.empty(f.q.shape, 'f32', ctx);
    const n4 = (B * lq * d) / 4;
    const sums = DQ_SUM_PARAMS.pack({ n: n4, W: slots, scale: f.scale });
    launch(ctx, shader('attention_bwd_dq_sum', {}, DQ_SUM_PARAMS), [partial.buffer, dq.buffer], sums, grid1D(n4, 64));
    partial.dispose();
    rd.dispose();
    return [dq, ...splitDkv(f, both, want)];
  }
  if (want[0] && regs) {
    dq = Tensor.empty(f.q.shape, 'f32', ctx);
    launch(
      ctx, attentionDqRegsShader(shape), [f.q.buffer, f.k.buffer, f.v.buffer, m, g.buffer, rd.buffer, dq.buffer],
      fusedParams(f, shape.KPL * SG), grid(Math.ceil(lq / shape.TM), B),
    );
  } else if (want[0]) {
    const c = config('dq', f);
    dq = Tensor.empty(f.q.shape, 'f32', ctx);
    launch(
      ctx, tiledShader('dq', f, c), [f.q.buffer, f.k.buffer, f.v.buffer, m, g.buffer, rd.buffer, dq.buffer],
      fusedParams(f, c.BK), grid(Math.ceil(lq / c.BQ), B),
    );
  }
  if (want[1] || want[2]) {
    const both = Tensor.empty([B * lk * (d + dv)], 'f32', ctx);
    if (regs) {
      launch(
        ctx, attentionDkvRegsShader(shape), [f.q.buffer, f.k.buffer, f.v.buffer, m, g.buffer, rd.buffer, both.buffer],
        fusedParams(f, shape.KPL * SG), grid(Math.ceil(lk / shape.TM), B),
      );
    } else {
      const c = config('dkv', f);
      const code = tiledShader('dkv', f, c);
      launch(
        ctx, code, [f.q.buffer, f.k.buffer, f.v.buffer, m, g.buffer, rd.buffer, both.buffer],
        fusedParams(f, c.BK), grid(Math.ceil(lk / c.BK), B),
      );
    }
    [dk, dvT] = splitDkv(f, both, want);
  }
  rd.dispose();
  return [dq, dk, dvT];
}

/** dK and dV (those wanted) out of the kernels' one buffer [dK, then dV]; disposes it. */
function splitDkv(f: Fused, both: Tensor, want: [boolean, boolean, boolean]): [Tensor | null, Tensor | null] {
  const { batch, lk, d, dv } = f.dims;
  const B = numelOf(batch);
  let dvT: Tensor | null = null;
  if (want[2]) {
    dvT = Tensor.empty(f.v.shape, 'f32', f.q.ctx);
    f.q.ctx.copyBuffer(both.buffer, B * lk * d * 4, dvT.buffer, 0, B * lk * dv * 4);
  }
  const dk = want[1] ? new Tensor(both.storage.retain(), f.k.shape) : null; // dK is the buffer's head
  both.dispose();
  return [dk, dvT];
}

/** Can the fused kernels run these sizes (non-empty, head sizes that fit workgroup memory)? */
export function fusable(t: Tensor, dims: AttentionDims): boolean {
  const { batch, lq, lk, d, dv } = dims;
  if (numelOf(batch) * lq * lk * d * dv === 0) return false;
  if (regsFit(t, d, dv)) return true;
  const s = smemBudget(t);
  return (['fwd', 'dq', 'dkv'] as const).every((k) => attentionKernelConfig(k, d, dv, s, familiesFor(t), forcedOf(t)) !== null);
}

/** Logits at most this large (bytes) take the unfused path on CPU adapters under impl 'auto'. */
const CPU_UNFUSED_BYTES = 64 * 2 ** 20;
/** With the regs family: small logits stay unfused (a fused pipeline costs seconds to compile there). */
const CPU_REGS_UNFUSED_BYTES = 4 * 2 ** 20;

/**
 * impl 'auto' on a CPU adapter (lavapipe): with the regs kernels (fixed subgroups, head sizes % 4 = 0)
 * the fused path beats the unfused one (bench/attention.ts, docs/engine.md), so fused runs from 4 MiB of
 * logits (below, its seconds of pipeline compilation outweigh it); without them the unfused path is
 * faster and runs up to 64 MiB. The 'attention.impl' flag (CFLENS_ATTENTION) overrides
 * 'auto' on every adapter.
 */
export function preferUnfused(q: Tensor, dims: AttentionDims): boolean {
  const impl = q.ctx.flags.get('attention.impl');
  if (impl !== 'auto') return impl === 'unfused';
  if (!q.ctx.caps.isCpu) return false;
  const bytes = numelOf(dims.batch) * dims.lq * dims.lk * 4;
  return bytes <= (regsFit(q, dims.d, dims.dv) ? CPU_REGS_UNFUSED_BYTES : CPU_UNFUSED_BYTES);
}
