import { ownedBuffer, type ByteSource } from './byte-source.js';
import { WeightsFormatError } from './errors.js';
import { parseSafetensorsHeader, readHeaderLength, type SafetensorsHeader, type TensorInfo } from './safetensors-header.js';
import { MAX_TENSOR_BYTES, toFloat32, typedArrayFor, type TensorData } from './tensor-data.js';

export type { ByteSource } from './byte-source.js';
export { bytesSource, blobSource } from './byte-source.js';
export { parseSafetensorsHeader, MAX_HEADER_BYTES, type SafetensorsHeader, type TensorInfo } from './safetensors-header.js';
export { writeSafetensors, safetensorsChunks, safetensorsLayout, type TensorToWrite, type TensorSpec } from './safetensors-write.js';
export { DTYPE_BYTES, toFloat32, type DType, type TensorArray, type TensorData } from './tensor-data.js';

export interface ReadOptions {
  /** Convert to F32 (F16, BF16, F8, F64 and integers: see toFloat32); by default the stored dtype is kept. */
  float32?: boolean;
}

/** A .safetensors file opened lazily: the validated header now, each tensor's bytes when asked. */
export class SafetensorsFile {
  private constructor(readonly source: ByteSource, readonly header: SafetensorsHeader) {}

  static async open(source: ByteSource): Promise<SafetensorsFile> {
    // The length is checked against the file size before the header is read (no allocation on its word).
    const n = readHeaderLength(await source.read(0, Math.min(8, source.size)), source.size, source.name);
    const bytes = await source.read(0, 8 + n);
    return new SafetensorsFile(source, parseSafetensorsHeader(bytes, source.size, source.name));
  }

  get metadata(): Record<string, string> {
    return this.header.metadata;
  }

  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  has(name: string): boolean {
    return this.header.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.header.tensors.get(name);
    if (!t) {
      throw new WeightsFormatError(
        this.source.name, 'missing-tensor',
        `no such tensor in the file (it has ${this.header.tensors.size}: ${this.names().slice(0, 5).join(', ')}${this.header.tensors.size > 5 ? ', …' : ''})`,
        name,
      );
    }
    return t;
  }

  async read(name: string, opts: ReadOptions = {}): Promise<TensorData> {
    const t = this.info(name);
    if (t.byteLength > MAX_TENSOR_BYTES) {
      throw new WeightsFormatError(
        this.source.name, 'too-large',
        `${t.byteLength} bytes is more than one buffer can hold (${MAX_TENSOR_BYTES}); split the tensor or store it in a lower precision`,
        name,
      );
    }
    const bytes = await this.source.read(this.header.dataOffset + t.begin, t.byteLength);
    const data = typedArrayFor(t.dtype, ownedBuffer(bytes));
    const td: TensorData = { name, dtype: t.dtype, shape: [...t.shape], data };
    return opts.float32 ? { ...td, dtype: 'F32', data: toFloat32(td) } : td;
  }
}
