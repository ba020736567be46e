// cflens: counterfactual diagnosis of vision models on WebGPU.
export * from './gpu/index.js';
export * from './autograd/index.js';
export * from './ops/index.js';
export * from './world/index.js';
export * from './nn/index.js';
export * from './models/index.js';
export * from './schedulers/index.js';
export * from './pipelines/index.js';
export * from './diagnosis/index.js';
export * as io from './io/index.js';
export { CLIPTokenizer } from './io/clip-tokenizer.js';
