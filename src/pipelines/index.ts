export { denoise, type DenoiseOptions } from './denoise.js';
export {
  ddimSample, ddimInvert, invertWith, invertPartially, roundTripTimesteps, ddimSampleUnconditional, guidedEps, type DdimSampleOptions, type ConditionalDenoiser,
} from './sampling.js';
export { asyrpSample, DeltaBlock, epsOriginalAndEdited, type HEdit } from './hspace.js';
export { nullTextInversion, psnr } from './null-text.js';
export { promptToPromptHook, alignTokens, TokenMaskAccumulator, type P2POptions } from './prompt-to-prompt.js';
export {
  StableDiffusionPipeline, ddimConfigOf, type StableDiffusionComponents, type PromptTokenizer, type PromptInput, type SDSampleOptions, type SDInvertOptions,
  type SDNullTextOptions,
} from './stable-diffusion.js';
