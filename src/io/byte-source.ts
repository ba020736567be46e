import { WeightsFormatError } from './errors.js';

/** Random access to the bytes of a file, an upload or a buffer: weights are read by ranges. */
export interface ByteSource {
  readonly name: string;
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function bytesSource(name: string, data: ArrayBuffer | Uint8Array): ByteSource {
  const b = data instanceof Uint8Array ? data : new Uint8Array(data);
  return {
    name,
    size: b.byteLength,
    read: async (o, l) => {
      if (o < 0 || l < 0 || o + l > b.byteLength) throw new WeightsFormatError(name, 'truncated', `a read of ${l} bytes at ${o} is past the end (${b.byteLength} bytes)`);
      return b.subarray(o, o + l);
    },
  };
}

/** A browser File or Blob. */
export function blobSource(blob: Blob, name = (blob as File).name ?? 'blob'): ByteSource {
  return {
    name,
    size: blob.size,
    read: async (o, l) => new Uint8Array(await blob.slice(o, o + l).arrayBuffer()),
  };
}
