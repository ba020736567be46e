/**
 * Plain-TypeScript CPU reference ops with PyTorch semantics, computed in float64.
 * Ground truth for the GPU kernels and for finite-difference gradient checks.
 */
export * from './core.ts';
export * from './elementwise.ts';
export * from './erf.ts';
export * from './activation.ts';
export * from './reduce.ts';
export * from './shape.ts';
export * from './matmul.ts';
export * from './softmax.ts';
export * from './conv.ts';
export * from './pool.ts';
export * from './resample.ts';
export * from './norm.ts';
export * from './attention.ts';
export * from './embedding.ts';
export * from './loss.ts';
export * from './ssim.ts';
