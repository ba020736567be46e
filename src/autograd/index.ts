export { Tensor, numelOf, shapeStr, BYTES, type DType } from './tensor.js';
export { Storage } from './storage.js';
export { tidy, keep, untracked } from './scope.js';
export { noGrad, enableGrad, isGradEnabled } from './grad-mode.js';
export { record } from './record.js';
export { backward, grad, type BackwardOptions } from './engine.js';
export { checkpoint } from './checkpoint.js';
export type { Node, Vjp } from './node.js';
export { gradcheck, type GradcheckOptions, type GradcheckResult, type HostArray } from './gradcheck.js';
