// The browser-safe weights I/O API (Node file access is in ./node/).
export { WeightsFormatError, type WeightsErrorCode } from './errors.js';
export { bytesSource, blobSource, type ByteSource } from './byte-source.js';
export { DTYPE_BYTES, toFloat32, type DType, type TensorArray, type TensorData } from './tensor-data.js';
export { halfToFloat, floatToHalfBits, halfBitsToFloat32, float32ToHalfBits, bfloat16BitsToFloat32 } from './dtype.js';
export { SafetensorsFile, parseSafetensorsHeader, type ReadOptions, type SafetensorsHeader, type TensorInfo } from './safetensors.js';
export { writeSafetensors, safetensorsChunks, safetensorsLayout, type TensorToWrite, type TensorSpec } from './safetensors-write.js';
export { loadPth, stateDictFrom, type LoadPthOptions, type PthValue, type StorageRef } from './pth.js';
export { readZipDirectory, readZipEntry, type ZipEntry } from './zip.js';
export { CLIPTokenizer, cleanText, learnClipBpe, CLIP_CONTEXT_LENGTH } from './clip-tokenizer.js';
export { encodePng, tileImages } from './png.js';
export { crc32 } from './crc32.js';
