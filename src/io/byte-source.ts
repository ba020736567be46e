import { WeightsFormatError } from './errors.js';

/** Random access to the bytes of a file, an upload or a buffer: weights are read by ranges. */
export interface ByteSource {
  readonly name: string;
  readonly size: number;
  /**
   * Exactly `length` bytes at `offset`; a range past the end throws WeightsFormatError('truncated').
   * A result that spans its whole ArrayBuffer is handed over: readers keep that buffer without copying.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Throws before anything is allocated when a range is not inside a source of `size` bytes. */
export function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new WeightsFormatError(
      name, 'truncated',
      `a read of ${length} bytes at offset ${offset} is outside the ${size}-byte file: it is truncated or damaged (download it again)`,
    );
  }
}

/**
 * A copy in a fresh ArrayBuffer. (Never `.slice()`: on a Node Buffer that returns a view, not a copy.)
 */
export function copyBytes(b: Uint8Array): Uint8Array<ArrayBuffer> {
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return copy;
}

/**
 * A buffer holding exactly `bytes`: the source's own when the read returned a fresh whole buffer
 * (file and blob sources), else a copy (views may be unaligned or alias the caller's memory).
 */
export function ownedBuffer(bytes: Uint8Array): ArrayBuffer {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  return whole ? (bytes.buffer as ArrayBuffer) : copyBytes(bytes).buffer;
}

/** Bytes already in memory (an ArrayBuffer, a Uint8Array or a Node Buffer); reads are views, never handed over. */
export function bytesSource(name: string, data: ArrayBuffer | Uint8Array): ByteSource {
  const b = data instanceof Uint8Array ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
  return {
    name,
    size: b.byteLength,
    read: async (offset, length) => {
      checkRange(name, b.byteLength, offset, length);
      const view = b.subarray(offset, offset + length);
      // A view of the caller's whole buffer would be handed over (see ByteSource.read): copy that one.
      return view.byteLength === view.buffer.byteLength ? copyBytes(view) : view;
    },
  };
}

/** A browser File or Blob, read slice by slice. */
export function blobSource(blob: Blob & { name?: string }, name: string = blob.name ?? 'blob'): ByteSource {
  return {
    name,
    size: blob.size,
    read: async (offset, length) => {
      checkRange(name, blob.size, offset, length);
      const bytes = new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
      if (bytes.byteLength !== length) {
        throw new WeightsFormatError(
          name, 'truncated', `got ${bytes.byteLength} of ${length} bytes at offset ${offset}: the file changed or could not be read`,
        );
      }
      return bytes;
    },
  };
}
