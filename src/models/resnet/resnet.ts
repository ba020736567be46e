import { tidy } from '../../autograd/scope.js';
import type { Tensor } from '../../autograd/tensor.js';
import { add, relu } from '../../ops/elementwise.js';
import { adaptiveAvgPool2d, maxPool2d } from '../../ops/pool.js';
import { flatten } from '../../ops/shape.js';
import { BatchNorm2d, Conv2d, Linear, ModuleList } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import type { LoadOptions } from '../pretrained.js';
import type { WeightsDir } from '../weights-dir.js';
import { loadPretrained } from '../load-lazy.js';

export type ResNetBlockKind = 'BasicBlock' | 'Bottleneck';

export interface ResNetConfig {
  block: ResNetBlockKind;
  layers: [number, number, number, number];
  num_classes: number;
  /** Input channels (3 for RGB). */
  in_channels?: number;
  /** Channels of the stem and the first stage (64 in torchvision; smaller for tiny models). */
  width?: number;
}

export const RESNET_CONFIGS = {
  resnet18: { block: 'BasicBlock', layers: [2, 2, 2, 2] },
  resnet34: { block: 'BasicBlock', layers: [3, 4, 6, 3] },
  resnet50: { block: 'Bottleneck', layers: [3, 4, 6, 3] },
} as const;

const conv = (i: number, o: number, k: number, stride = 1) => new Conv2d(i, o, k, { stride, padding: (k - 1) / 2, bias: false });

class BasicBlock extends Module {
  static expansion = 1;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  downsample: ModuleList<Conv2d | BatchNorm2d> | null = null;
  constructor(inplanes: number, planes: number, stride: number) {
    super();
    this.conv1 = this.child('conv1', conv(inplanes, planes, 3, stride));
    this.bn1 = this.child('bn1', new BatchNorm2d(planes));
    this.conv2 = this.child('conv2', conv(planes, planes, 3));
    this.bn2 = this.child('bn2', new BatchNorm2d(planes));
    if (stride !== 1 || inplanes !== planes) {
      this.downsample = this.child('downsample', new ModuleList<Conv2d | BatchNorm2d>([conv(inplanes, planes, 1, stride), new BatchNorm2d(planes)]));
    }
  }
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = this.bn2.forward(this.conv2.forward(relu(this.bn1.forward(this.conv1.forward(x)))));
      return relu(add(h, shortcut(this.downsample, x)));
    });
  }
}

class Bottleneck extends Module {
  static expansion = 4;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  conv3: Conv2d;
  bn3: BatchNorm2d;
  downsample: ModuleList<Conv2d | BatchNorm2d> | null = null;
  constructor(inplanes: number, planes: number, stride: number) {
    super();
    const out = planes * 4;
    this.conv1 = this.child('conv1', conv(inplanes, planes, 1));
    this.bn1 = this.child('bn1', new BatchNorm2d(planes));
    this.conv2 = this.child('conv2', conv(planes, planes, 3, stride)); // stride on the 3×3 (ResNet v1.5, torchvision)
    this.bn2 = this.child('bn2', new BatchNorm2d(planes));
    this.conv3 = this.child('conv3', conv(planes, out, 1));
    this.bn3 = this.child('bn3', new BatchNorm2d(out));
    if (stride !== 1 || inplanes !== out) {
      this.downsample = this.child('downsample', new ModuleList<Conv2d | BatchNorm2d>([conv(inplanes, out, 1, stride), new BatchNorm2d(out)]));
    }
  }
  forward(x: Tensor): Tensor {
    return tidy(() => {
      let h = relu(this.bn1.forward(this.conv1.forward(x)));
      h = relu(this.bn2.forward(this.conv2.forward(h)));
      h = this.bn3.forward(this.conv3.forward(h));
      return relu(add(h, shortcut(this.downsample, x)));
    });
  }
}

function shortcut(ds: ModuleList<Conv2d | BatchNorm2d> | null, x: Tensor): Tensor {
  if (!ds) return x;
  return (ds.at(1) as BatchNorm2d).forward((ds.at(0) as Conv2d).forward(x));
}

/** torchvision ResNet (same key names: conv1, bn1, layer1..4, fc), BasicBlock or Bottleneck, any num_classes. */
export class ResNet extends Module {
  /** A folder with config.json ({block, layers, num_classes}) and torchvision weights (.pth or .safetensors). */
  static fromPretrained(dir: string | WeightsDir, opts: LoadOptions & { weights?: string } = {}): Promise<ResNet> {
    return loadPretrained(dir, (c) => new ResNet(c as unknown as ResNetConfig), opts);
  }

  readonly config: ResNetConfig;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  layer1: ModuleList<BasicBlock | Bottleneck>;
  layer2: ModuleList<BasicBlock | Bottleneck>;
  layer3: ModuleList<BasicBlock | Bottleneck>;
  layer4: ModuleList<BasicBlock | Bottleneck>;
  fc: Linear;

  constructor(config: ResNetConfig) {
    super();
    this.config = config;
    const Block = config.block === 'Bottleneck' ? Bottleneck : BasicBlock;
    if (config.block !== 'Bottleneck' && config.block !== 'BasicBlock') {
      throw new Error(`cflens: ResNet: block must be BasicBlock or Bottleneck, got ${String(config.block)}`);
    }
    const w = config.width ?? 64;
    this.conv1 = this.child('conv1', new Conv2d(config.in_channels ?? 3, w, 7, { stride: 2, padding: 3, bias: false }));
    this.bn1 = this.child('bn1', new BatchNorm2d(w));
    let inplanes = w;
    const stage = (planes: number, blocks: number, stride: number) => {
      const list = new ModuleList<BasicBlock | Bottleneck>();
      for (let i = 0; i < blocks; i++) {
        list.push(new Block(inplanes, planes, i === 0 ? stride : 1));
        inplanes = planes * Block.expansion;
      }
      return list;
    };
    this.layer1 = this.child('layer1', stage(w, config.layers[0], 1));
    this.layer2 = this.child('layer2', stage(2 * w, config.layers[1], 2));
    this.layer3 = this.child('layer3', stage(4 * w, config.layers[2], 2));
    this.layer4 = this.child('layer4', stage(8 * w, config.layers[3], 2));
    this.fc = this.child('fc', new Linear(inplanes, config.num_classes));
  }

  /** Pooled features before fc. */
  features(x: Tensor): Tensor {
    return tidy(() => {
      let h = maxPool2d(relu(this.bn1.forward(this.conv1.forward(x))), 3, 2, 1);
      for (const layer of [this.layer1, this.layer2, this.layer3, this.layer4]) for (const b of layer) h = b.forward(h);
      return flatten(adaptiveAvgPool2d(h, [1, 1]), 1);
    });
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.fc.forward(this.features(x)));
  }
}
