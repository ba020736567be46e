export { UNet2DConditionModel, UNET_2D_CONDITION_DEFAULTS, type UNet2DConditionConfig } from './diffusers/unet-2d-condition.js';
export { UNet2DModel, UNET_2D_DEFAULTS, type UNet2DConfig, type MidBlockHook } from './diffusers/unet-2d.js';
export { AutoencoderKL, type AutoencoderKLConfig } from './diffusers/autoencoder-kl.js';
export { Attention, type AttentionCall, type AttentionHook } from './diffusers/attention.js';
export { CLIPModel, CLIP_VIT_B32_CONFIG, clipConfig, l2normalize, type CLIPConfig } from './clip/clip-model.js';
export { ResNet, RESNET_CONFIGS, type ResNetConfig } from './resnet/resnet.js';
export { memoryDir, type WeightsDir } from './weights-dir.js';
export type { LoadOptions } from './pretrained.js';
export { SmallConvNet, SmallSegmenter, ConvBnRelu, type SmallConvNetConfig, type SmallSegmenterConfig } from './small/convnet.js';
