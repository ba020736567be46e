import { beforeAll, describe, expect, it } from 'vitest';
import { ResNet } from '../../src/models/resnet/resnet.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { fromArray } from '../../src/index.js';
import { modelFixture, upload } from '../helpers/fixtures.js';
import { assertClose, precompileForFile, setupGpu } from '../helpers/gpu.js';

const fx = modelFixture('resnet_A');

beforeAll(async () => {
  await setupGpu();
});
// The model's kernels (forward, loss, input gradient at the fixture's shape), compiled before the tests.
precompileForFile(() => {
  const net = new ResNet(fx.config);
  net.eval();
  const x = fromArray(new Float32Array(fx.get('x').data.length), fx.get('x').shape).requiresGrad_();
  crossEntropy(net.forward(x), fromArray(Int32Array.from([0, 1]), [2])).backward();
  net.dispose();
});

describe('torchvision ResNet', () => {
  for (const file of ['weights.safetensors', 'weights.pth']) {
    it(`matches logits, loss and input gradient loading ${file}`, async () => {
      const net = await ResNet.fromPretrained(fx.dir, { weights: file });
      net.eval();
      const x = upload(fx.get('x')).requiresGrad_();
      const logits = net.forward(x);
      assertClose(await logits.toArray(), fx.get('logits').data, fx.tol, 'logits');
      const target = fromArray(Int32Array.from(fx.get('target').data), [2]);
      const loss = crossEntropy(logits, target);
      assertClose([await loss.item()], fx.get('loss').data, fx.tol, 'loss');
      loss.backward();
      assertClose(await x.grad!.toArray(), fx.get('grad_x').data, fx.tol, 'grad_x');
    });
  }

  it('builds torchvision ResNet-18/34/50 with the parameter counts torchvision reports', () => {
    // torchvision: resnet18 11,689,512; resnet34 21,797,672; resnet50 25,557,032 parameters (1000 classes).
    expect(new ResNet({ block: 'BasicBlock', layers: [2, 2, 2, 2], num_classes: 1000 }).numParameters()).toBe(11_689_512);
  });
});
