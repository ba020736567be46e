// cflens: counterfactual diagnosis of vision models on WebGPU.
export * from './gpu/index.js';
export * from './autograd/index.js';
export * from './ops/index.js';
export * from './world/index.js';
