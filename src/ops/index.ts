import { registerAutogradHooks } from '../autograd/hooks.js';
import { add } from './elementwise.js';
import { onesLike, zerosLike } from './creation.js';
import { cast } from './cast.js';
import './methods.js';

registerAutogradHooks({ add, onesLike, zerosLike, castTo: cast });

export * from './creation.js';
export * from './elementwise.js';
export * from './reduce.js';
export * from './shape.js';
export { cast } from './cast.js';
export { broadcastShapes } from './util.js';
export type { TensorLike } from './util.js';
export * from './conv.js';
export * from './pool.js';
export * from './resample.js';
export * from './matmul.js';
export * from './softmax.js';
export * from './gather.js';
export * from './activation.js';
export * from './embedding.js';
export * from './norm.js';
export * from './loss.js';
export * from './attention.js';
export * from './ssim.js';
