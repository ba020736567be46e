// The synthetic toy-face world: a deterministic CPU renderer with known ground truth (attributes,
// captions, keypoints, segmentation masks, per-attribute regions) and a dataset sampler that plants
// spurious correlations. Browser-safe; Node-only helpers live in ./node/. See src/world/README.md.
export * from './rng.js';
export * from './attributes.js';
export * from './render.js';
export * from './dataset.js';
export * from './attribute-columns.js';
export * from './counterfactual.js';
