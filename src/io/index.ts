export * from './errors.js';
export * from './byte-source.js';
export { SafetensorsFile, parseSafetensorsHeader, toFloat32, writeSafetensors, DTYPE_BYTES, type TensorData, type TensorInfo, type TensorToWrite } from './safetensors.js';
export { loadPth, stateDictFrom } from './pth.js';
export { halfToFloat, halfBitsToFloat32, bfloat16BitsToFloat32, floatToHalfBits } from './dtype.js';
export { CLIPTokenizer, cleanText, CLIP_CONTEXT_LENGTH } from './clip-tokenizer.js';
