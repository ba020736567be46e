// The PyTorch `call` of every fixture case in test/fixtures/ops, spelled with the reference ops.
import * as R from '../../src/reference/index.ts';
import type { NDArray } from '../../src/reference/index.ts';

export type Inputs = Record<string, NDArray>;
type CaseFn = (i: Inputs) => NDArray;

const ints = (x: NDArray) => Array.from(x.data);

export const OP_CASES: Record<string, Record<string, CaseFn>> = {
  act: {
    gelu_erf: ({ x }) => R.gelu(x),
    gelu_tanh: ({ x }) => R.geluTanh(x),
    quick_gelu: ({ x }) => R.quickGelu(x),
    silu: ({ x }) => R.silu(x),
    sigmoid: ({ x }) => R.sigmoid(x),
    geglu: ({ x }) => {
      const [h, g] = R.chunk(x, 2, -1);
      return R.mul(h, R.gelu(g));
    },
  },
  attention: {
    self_mh: ({ q, k, v }) => R.scaledDotProductAttention(q, k, v),
    cross_mh: ({ q, k, v }) => R.scaledDotProductAttention(q, k, v),
    masked: ({ q, k, v, mask }) => {
      const [B, Nk] = mask.shape;
      return R.scaledDotProductAttention(q, k, v, { mask: R.reshape(mask, [B, 1, 1, Nk]), maskKind: 'bool' });
    },
    causal: ({ q, k, v }) => R.scaledDotProductAttention(q, k, v, { causal: true }),
  },
  conv: {
    conv_s1_p1: ({ x, w, b }) => R.conv2d(x, w, b, { stride: 1, padding: 1 }),
    conv_s2_p0: ({ x, w, b }) => R.conv2d(x, w, b, { stride: 2, padding: 0 }),
    conv_s2_p1_nobias: ({ x, w }) => R.conv2d(x, w, null, { stride: 2, padding: 1 }),
    conv_dil2: ({ x, w, b }) => R.conv2d(x, w, b, { stride: 1, padding: 2, dilation: 2 }),
    conv_depthwise: ({ x, w, b }) => R.conv2d(x, w, b, { stride: 1, padding: 1, groups: 6 }),
    conv_groups2_1x1: ({ x, w, b }) => R.conv2d(x, w, b, { groups: 2 }),
    conv_7x7_s2_p3: ({ x, w }) => R.conv2d(x, w, null, { stride: 2, padding: 3 }),
    conv_transpose_s2: ({ x, w, b }) => R.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }),
  },
  embed: {
    embedding: ({ ids, w }) => R.embedding(w, ids),
    temb_f1_s0: ({ t }) => R.timestepEmbedding(ints(t), 32, { flipSinToCos: true, downscaleFreqShift: 0 }),
    temb_f1_s1: ({ t }) => R.timestepEmbedding(ints(t), 32, { flipSinToCos: true, downscaleFreqShift: 1 }),
    temb_f0_s0: ({ t }) => R.timestepEmbedding(ints(t), 32, { flipSinToCos: false, downscaleFreqShift: 0 }),
    temb_f0_s1: ({ t }) => R.timestepEmbedding(ints(t), 32, { flipSinToCos: false, downscaleFreqShift: 1 }),
  },
  loss: {
    cross_entropy: ({ logits, target }) => R.crossEntropy(logits, target),
    cross_entropy_soft: ({ logits, p }) => R.crossEntropy(logits, p),
    bce_logits: ({ x, y }) => R.binaryCrossEntropyWithLogits(x, y),
    mse: ({ a, b }) => R.mseLoss(a, b),
    l1: ({ a, b }) => R.l1Loss(a, b),
    cosine: ({ a, b }) => R.cosineSimilarity(a, b, -1, 1e-8),
  },
  matmul: {
    batched_broadcast: ({ a, b }) => R.matmul(a, b),
    linear: ({ x, w, b }) => R.linear(x, w, b),
  },
  norm: {
    group_norm: ({ x, w, b }) => R.groupNorm(x, 4, w, b, 1e-5),
    group_norm_eps6: ({ x, w, b }) => R.groupNorm(x, 2, w, b, 1e-6),
    layer_norm: ({ x, w, b }) => R.layerNorm(x, [16], w, b, 1e-5),
    batch_norm_eval: ({ x, rm, rv, w, b }) => R.batchNorm2d(x, rm, rv, w, b, { training: false, eps: 1e-5 }),
    batch_norm_train: ({ x, w, b }) => R.batchNorm2d(x, null, null, w, b, { training: true, eps: 1e-5 }),
  },
  reduce: {
    sum_12: ({ x }) => R.sum(x, [1, 2]),
    mean_last_keep: ({ x }) => R.mean(x, -1, { keepdim: true }),
    max_1: ({ x }) => R.max(x, 1),
    logsumexp_last: ({ x }) => R.logsumexp(x, -1),
    var_23: ({ x }) => R.variance(x, [2, 3], { correction: 0 }),
  },
  resample: {
    nearest_2x: ({ x }) => R.interpolate(x, { scaleFactor: 2, mode: 'nearest' }),
    bilinear_2x: ({ x }) => R.interpolate(x, { scaleFactor: 2, mode: 'bilinear', alignCorners: false }),
    bilinear_down: ({ x }) => R.interpolate(x, { size: [4, 5], mode: 'bilinear', alignCorners: false }),
    avgpool2: ({ x }) => R.avgPool2d(x, 2),
    maxpool3s2p1: ({ x }) => R.maxPool2d(x, 3, 2, 1),
    adaptive_avg1: ({ x }) => R.adaptiveAvgPool2d(x, 1),
  },
  softmax: {
    softmax: ({ x }) => R.softmax(x, -1),
    log_softmax: ({ x }) => R.logSoftmax(x, -1),
  },
  ssim: {
    ssim: ({ x, y }) => R.ssim(x, y, { dataRange: 1, windowSize: 11, sigma: 1.5 }),
  },
};
