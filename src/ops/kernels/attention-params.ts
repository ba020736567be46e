// The fused attention kernels' declared parameters, shared by every family (attention-tiled.ts,
// attention-regs.ts) and the two small kernels shaders/attention_bwd_pre.wgsl, attention_bwd_dq_sum.wgsl.
import { defineParams } from '../../gpu/wgsl.js';

/**
 * Every fused attention kernel: Lq, Lk, the logit scale, causality, the mask's strides along queries and
 * keys and its kind (0 none, 1 additive, 2 keep where != 0), the head sizes, `batches` batch·heads of a
 * `batchRank`-dimensional batch shape, `keyBlocks` (the kernel's key block, BK); dims = the batch shape,
 * then the mask's batch strides.
 */
export const ATTENTION_PARAMS = defineParams('AttentionParams', {
  lq: 'u32', lk: 'u32', scale: 'f32', causal: 'u32', maskStrideQ: 'u32', maskStrideK: 'u32', batchRank: 'u32', batches: 'u32',
  D: 'u32', DV: 'u32', maskKind: 'u32', keyBlocks: 'u32', dims: ['u32', '*'],
});
/** attention_bwd_pre.wgsl: rows of DV. */
export const ATTENTION_PRE_PARAMS = defineParams('AttentionPreParams', { rows: 'u32', DV: 'u32' });
/** attention_bwd_dq_sum.wgsl: dQ = scale · Σ over W partial copies of n vec4s. */
export const DQ_SUM_PARAMS = defineParams('DqSumParams', { n: 'u32', W: 'u32', scale: 'f32' });
