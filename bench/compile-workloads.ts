// The workloads of the compile benchmark: every kernel family and variant the engine can choose, each
// under the algorithm switches that select it (the adapter's own choice, 'auto', included), plus the
// model fixtures' forward and backward and the default diagnosis. Each is traced (bench/compile.ts):
// its launches are recorded, not run, so the values here are never read.
import { readFileSync } from 'node:fs';
import {
  add, adaptiveAvgPool2d, avgPool2d, backward, batchNorm2d, cast, conv2d, convTranspose2d, crossEntropy, embedding, exp, fromArray, gather,
  gelu, geglu, groupNorm, indexSelect, interpolate, layerNorm, logSoftmax, maxPool2d, mseLoss, mul, randn, relu, scaledDotProductAttention,
  sigmoid, withFlags, silu, softmax, sum, tanh, tidy, where, matmul, mean, max, ssim, gt, type ConvAlgo, type GpuContext, type Tensor,
} from '../src/index.js';
import { Adam, AdamW, SGD } from '../src/nn/optim.js';
import { UNet2DConditionModel } from '../src/models/diffusers/unet-2d-condition.js';
import { UNet2DModel } from '../src/models/diffusers/unet-2d.js';
import { AutoencoderKL } from '../src/models/diffusers/autoencoder-kl.js';
import { CLIPModel } from '../src/models/clip/clip-model.js';
import { ResNet } from '../src/models/resnet/resnet.js';
import { SmallConvNet } from '../src/models/small/convnet.js';
import { DDIMScheduler } from '../src/schedulers/ddim.js';
import { diagnosisKernels } from '../src/diagnosis/world-diagnosis.js';
import { clipAttributeReader } from '../src/diagnosis/attribute-reader.js';

/** A workload: loads what it needs (async), then returns the synchronous computation to trace. */
export type Workload = (ctx: GpuContext) => Promise<() => void>;

const leaf = (shape: number[]) => randn(shape, { seed: shape.length }).requiresGrad_();

/** Forward and backward of `f` on fresh leaves of the given shapes. */
function grads(shapes: number[][], f: (...xs: Tensor[]) => Tensor): () => void {
  return () => tidy(() => {
    const xs = shapes.map(leaf);
    backward(sum(f(...xs)));
  });
}

function withConvAlgo(algo: ConvAlgo, fn: () => void): () => void {
  return () => withFlags({ 'conv.algo': algo }, fn);
}

const CONV_GEOMETRIES: Array<{ name: string; x: number[]; w: number[]; o: Parameters<typeof conv2d>[3] }> = [
  { name: '3x3 s1 p1 (UNet)', x: [2, 16, 16, 16], w: [32, 16, 3, 3], o: { padding: 1 } },
  { name: '3x3 s2 p1 (downsample)', x: [2, 16, 16, 16], w: [16, 16, 3, 3], o: { stride: 2, padding: 1 } },
  { name: '7x7 s2 p3 (ResNet stem)', x: [1, 3, 32, 32], w: [8, 3, 7, 7], o: { stride: 2, padding: 3 } },
  { name: '1x1 (shortcut)', x: [2, 16, 8, 8], w: [32, 16, 1, 1], o: {} },
  { name: 'depthwise 3x3', x: [1, 8, 8, 8], w: [8, 1, 3, 3], o: { groups: 8, padding: 1 } },
  { name: '3x3 few channels (classifier input)', x: [4, 3, 32, 32], w: [8, 3, 3, 3], o: { padding: 1 } },
];

const ATTENTION_SHAPES = [
  { name: 'D 8 (world CLIP)', q: [1, 2, 16, 8], k: [1, 2, 16, 8] },
  { name: 'D 40 (SD 1.x)', q: [1, 2, 64, 40], k: [1, 2, 77, 40] },
  { name: 'D 64', q: [1, 2, 64, 64], k: [1, 2, 64, 64] },
];

function ops(): Record<string, Workload> {
  const w: Record<string, Workload> = {};
  const sync = (fn: () => void): Workload => async () => fn;
  w['elementwise'] = sync(grads([[4, 64], [4, 64]], (a, b) => add(mul(tanh(a), sigmoid(b)), where(gt(a, b), exp(a), relu(b)))));
  w['activations'] = sync(grads([[4, 64], [4, 128]], (a, b) => add(add(gelu(a), silu(a)), sum(geglu(b), -1, true))));
  w['reduce'] = sync(grads([[8, 33, 7]], (a) => add(sum(mean(a, 1), 0), max(a))));
  w['softmax'] = sync(grads([[6, 5], [3, 70], [2, 300]], (a, b, c) => add(add(sum(softmax(a, 1)), sum(logSoftmax(b, 1))), sum(softmax(c, 0)))));
  w['matmul (adapter kernel)'] = sync(grads([[3, 8, 12], [12, 20], [20, 12]], (a, b, c) => matmul(matmul(a, b), c)));
  for (const k of ['regs', 'tiled'] as const) {
    w[`matmul (${k})`] = sync(() => withFlags(
      { 'matmul.kernel': k },
      grads([[3, 8, 12], [12, 20], [7, 9], [9, 5]], (a, b, c, d) => add(sum(matmul(a, b)), sum(matmul(c, d)))),
    ));
  }
  w['norms'] = sync(grads(
    [[2, 16, 8, 8], [2, 10, 32], [2, 8, 4, 4]],
    (a, b, c) => add(add(sum(groupNorm(a, 4)), sum(layerNorm(b, [32]))), sum(batchNorm2d(c, null, null, null, null, { training: true }))),
  ));
  w['pool, resample'] = sync(grads(
    [[1, 4, 16, 16]],
    (a) => add(add(sum(maxPool2d(a, 2)), sum(avgPool2d(a, 2))), add(sum(adaptiveAvgPool2d(a, 1)), sum(interpolate(a, { scaleFactor: 2, mode: 'nearest' })))),
  ));
  w['gather, embedding'] = sync(() => tidy(() => {
    const table = leaf([50, 16]);
    const ids = fromArray(Int32Array.from([1, 4, 9, 4]), [4], { dtype: 'i32' });
    backward(add(
      sum(embedding(table, ids)),
      add(sum(indexSelect(table, 0, ids)), sum(gather(table, 0, fromArray(Int32Array.from({ length: 32 }, (_, i) => i % 50), [2, 16], { dtype: 'i32' })))),
    ));
  }));
  w['losses, ssim'] = sync(grads([[4, 10], [1, 3, 16, 16], [1, 3, 16, 16]], (l, a, b) => add(crossEntropy(l, [1, 2, 3, 4]), add(mseLoss(a, b), ssim(a, b)))));
  w['cast f16'] = sync(() => tidy(() => void cast(cast(randn([64]), 'f16'), 'f32')));
  w['optimisers'] = sync(() => tidy(() => {
    const p = leaf([64]);
    backward(sum(mul(p, p)));
    for (const O of [SGD, Adam, AdamW]) {
      const opt = new O([p], { lr: 0.1 });
      opt.step();
      opt.dispose();
    }
  }));
  for (const algo of ['auto', 'gemm', 'regs', 'rows', 'direct', 'matmul'] as ConvAlgo[]) {
    for (const g of CONV_GEOMETRIES) {
      w[`conv2d ${g.name} [${algo}]`] = sync(withConvAlgo(algo, grads([g.x, g.w, [g.w[0]]], (x, wt, b) => conv2d(x, wt, b, g.o))));
    }
    w[`convTranspose2d s2 k2 [${algo}]`] = sync(withConvAlgo(
      algo,
      grads([[1, 8, 6, 6], [8, 4, 2, 2]], (x, wt) => convTranspose2d(x, wt, null, { stride: 2 })),
    ));
  }
  for (const family of [null, 'narrow', 'wide', 'regs'] as const) {
    for (const s of ATTENTION_SHAPES) {
      for (const masked of [false, true]) {
        w[`attention ${s.name}${masked ? ' + mask' : ''} [${family ?? 'auto'}]`] = sync(() => withFlags({ 'attention.family': family }, () => tidy(() => {
          const [q, k, v] = [leaf(s.q), leaf(s.k), leaf(s.k)];
          const mask = masked ? fromArray(new Float32Array(s.k[2]), [1, 1, 1, s.k[2]]) : undefined;
          // A forced family can be impossible here (the wide tiles need more workgroup memory than some
          // adapters have at D 64): then this adapter can never choose it, and there is nothing to compile.
          let y;
          try {
            y = scaledDotProductAttention(q, k, v, { impl: 'fused', mask, causal: masked });
          } catch (e) {
            if (/is not possible/.test((e as Error).message)) return;
            throw e;
          }
          backward(sum(y));
        })));
      }
    }
  }
  return w;
}

const fixtureDir = (name: string) => new URL(`../test/fixtures/${name}/`, import.meta.url).pathname;
/** A tensor's shape from a fixture's meta.json (written as {shape, …} or as the bare shape). */
function metaShape(name: string, tensor: string): number[] {
  const t = JSON.parse(readFileSync(`${fixtureDir(name)}meta.json`, 'utf8')).tensors[tensor];
  return Array.isArray(t) ? t : t.shape;
}

function models(): Record<string, Workload> {
  const w: Record<string, Workload> = {};
  w['model unet_cond_A forward + backward'] = async () => {
    const m = await UNet2DConditionModel.fromPretrained(fixtureDir('unet_cond_A'));
    return grads([metaShape('unet_cond_A', 'sample'), metaShape('unet_cond_A', 'encoder_hidden_states')], (x, c) => m.forward(x, 10, c));
  };
  w['model unet_ddpm_A forward + backward'] = async () => {
    const m = await UNet2DModel.fromPretrained(fixtureDir('unet_ddpm_A'));
    return grads([metaShape('unet_ddpm_A', 'sample')], (x) => m.forward(x, 10));
  };
  w['model vae_A encode + decode + backward'] = async () => {
    const m = await AutoencoderKL.fromPretrained(fixtureDir('vae_A'));
    return grads([metaShape('vae_A', 'x'), metaShape('vae_A', 'z')], (x, z) => add(sum(m.encode(x).mean), sum(m.decode(z))));
  };
  w['model clip_A text + vision + backward'] = async () => {
    const m = await CLIPModel.fromPretrained(fixtureDir('clip_A'));
    const [b, len] = metaShape('clip_A', 'input_ids');
    const ids = Array.from({ length: b }, () => Array.from({ length: len }, (_, i) => (i === 3 ? 49407 : i + 1)));
    return grads([metaShape('clip_A', 'pixel_values')], (px) => sum(m.forward(ids, px).logitsPerImage));
  };
  w['model resnet_A forward + backward'] = async () => {
    const m = await ResNet.fromPretrained(fixtureDir('resnet_A'), { weights: 'weights.safetensors' });
    return grads([metaShape('resnet_A', 'x')], (x) => m.forward(x));
  };
  w['default diagnosis (npm start)'] = async () => {
    const dir = (n: string) => new URL(`../models/defaults/${n}/`, import.meta.url).pathname;
    const o = {
      target: await SmallConvNet.fromPretrained(dir('smile_blond')),
      reader: clipAttributeReader(await CLIPModel.fromPretrained(dir('clip'))),
      unet: await UNet2DModel.fromPretrained(dir('ddpm')),
      scheduler: new DDIMScheduler(JSON.parse(readFileSync(`${dir('ddpm')}scheduler_config.json`, 'utf8'))),
      label: 'smiling',
    };
    return () => diagnosisKernels(o);
  };
  return w;
}

export function workloads(): Record<string, Workload> {
  return { ...ops(), ...models() };
}

/** Models and the diagnosis only (--quick). */
export function quickWorkloads(): Record<string, Workload> {
  return models();
}
