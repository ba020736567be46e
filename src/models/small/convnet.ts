// Small CNNs for the world's target models (classifiers, keypoint regressor, attribute probe) and a
// small U-shaped segmenter, built from nn with PyTorch-style key names, config.json + safetensors.
import { tidy } from '../../autograd/scope.js';
import type { Tensor } from '../../autograd/tensor.js';
import { relu } from '../../ops/elementwise.js';
import { adaptiveAvgPool2d, maxPool2d } from '../../ops/pool.js';
import { interpolate } from '../../ops/resample.js';
import { concat, reshape } from '../../ops/shape.js';
import { BatchNorm2d, Conv2d, Linear, ModuleList } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import type { LoadOptions } from '../pretrained.js';
import type { WeightsDir } from '../weights-dir.js';
import { loadPretrained } from '../load-lazy.js';

/** conv 3×3 → BatchNorm → ReLU (keys: conv.weight, bn.*). */
export class ConvBnRelu extends Module {
  conv: Conv2d;
  bn: BatchNorm2d;
  constructor(cin: number, cout: number, stride = 1) {
    super();
    this.conv = this.child('conv', new Conv2d(cin, cout, 3, { padding: 1, stride, bias: false }));
    this.bn = this.child('bn', new BatchNorm2d(cout));
  }
  forward(x: Tensor): Tensor { return tidy(() => relu(this.bn.forward(this.conv.forward(x)))); }
}

export interface SmallConvNetConfig {
  model_type: 'small_convnet';
  image_size: number;
  in_channels: number;
  /** Channels of each stage; every stage but the last halves the resolution (max pool 2). */
  channels: number[];
  num_outputs: number;
  /** 'pool': global average pool → linear (classifiers); 'flatten': keep positions (keypoints). */
  head: 'pool' | 'flatten';
  /** What the outputs mean: 'classes' (softmax), 'multilabel' (sigmoids), 'keypoints' (x, y pairs in pixels / size). */
  task: 'classes' | 'multilabel' | 'keypoints';
  /** Names of the outputs (class names, attribute columns, keypoint coordinates). */
  labels?: string[];
}

/** A plain CNN: stages of ConvBnRelu (+ max pool) and a linear head. */
export class SmallConvNet extends Module {
  static fromPretrained(dir: string | WeightsDir, opts: LoadOptions & { weights?: string } = {}): Promise<SmallConvNet> {
    return loadPretrained(dir, (c) => new SmallConvNet(c as unknown as SmallConvNetConfig), opts);
  }

  readonly config: SmallConvNetConfig;
  stages: ModuleList<ConvBnRelu>;
  fc: Linear;
  constructor(config: Partial<SmallConvNetConfig> & { num_outputs: number }) {
    super();
    const c = (this.config = { model_type: 'small_convnet', image_size: 32, in_channels: 3, channels: [16, 32, 64], head: 'pool', task: 'classes', ...config });
    const ch = c.channels;
    this.stages = this.child('stages', new ModuleList(ch.map((co, i) => new ConvBnRelu(i === 0 ? c.in_channels : ch[i - 1], co))));
    const side = c.image_size >> (ch.length - 1);
    const features = c.head === 'pool' ? ch[ch.length - 1] : ch[ch.length - 1] * side * side;
    this.fc = this.child('fc', new Linear(features, c.num_outputs));
  }

  /** Logits (or keypoint coordinates) [B, num_outputs] from images [B, C, S, S] in [0, 1]. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = this.features(x);
      const f = this.config.head === 'pool' ? reshape(adaptiveAvgPool2d(h, 1), [h.shape[0], h.shape[1]]) : reshape(h, [h.shape[0], h.size / h.shape[0]]);
      return this.fc.forward(f);
    });
  }

  /** The last stage's feature map [B, channels[-1], s, s] (neuron visualisations and CAMs read its channels). */
  features(x: Tensor): Tensor {
    return tidy(() => {
      let h = x;
      this.stages.items.forEach((s, i) => {
        h = s.forward(h);
        if (i < this.stages.items.length - 1) h = maxPool2d(h, 2);
      });
      return h;
    });
  }
}

export interface SmallSegmenterConfig {
  model_type: 'small_segmenter';
  image_size: number;
  in_channels: number;
  /** Encoder channels at full, 1/2 and 1/4 resolution. */
  channels: [number, number, number];
  num_classes: number;
  labels?: string[];
}

/** A small U-Net-like segmenter: three encoder stages, bilinear upsampling with skip connections. */
export class SmallSegmenter extends Module {
  static fromPretrained(dir: string | WeightsDir, opts: LoadOptions & { weights?: string } = {}): Promise<SmallSegmenter> {
    return loadPretrained(dir, (c) => new SmallSegmenter(c as unknown as SmallSegmenterConfig), opts);
  }

  readonly config: SmallSegmenterConfig;
  enc1: ConvBnRelu;
  enc2: ConvBnRelu;
  enc3: ConvBnRelu;
  dec2: ConvBnRelu;
  dec1: ConvBnRelu;
  head: Conv2d;
  constructor(config: Partial<SmallSegmenterConfig> & { num_classes: number }) {
    super();
    const c = (this.config = { model_type: 'small_segmenter', image_size: 32, in_channels: 3, channels: [16, 32, 32], ...config });
    const [a, b, d] = c.channels;
    this.enc1 = this.child('enc1', new ConvBnRelu(c.in_channels, a));
    this.enc2 = this.child('enc2', new ConvBnRelu(a, b, 2));
    this.enc3 = this.child('enc3', new ConvBnRelu(b, d, 2));
    this.dec2 = this.child('dec2', new ConvBnRelu(d + b, b));
    this.dec1 = this.child('dec1', new ConvBnRelu(b + a, a));
    this.head = this.child('head', new Conv2d(a, c.num_classes, 1));
  }

  /** Per-pixel class logits [B, num_classes, S, S]. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const e1 = this.enc1.forward(x);
      const e2 = this.enc2.forward(e1);
      const e3 = this.enc3.forward(e2);
      const up = (t: Tensor) => interpolate(t, { scaleFactor: 2, mode: 'bilinear' });
      const d2 = this.dec2.forward(concat([up(e3), e2], 1));
      const d1 = this.dec1.forward(concat([up(d2), e1], 1));
      return this.head.forward(d1);
    });
  }
}
