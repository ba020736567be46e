import { open } from 'node:fs/promises';
import { statSync } from 'node:fs';
import type { ByteSource } from '../byte-source.js';
import { WeightsFormatError } from '../errors.js';

/** A file on disk read by byte ranges (a 3 GB checkpoint never sits in one buffer). */
export function fileSource(path: string): ByteSource {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new Error(`cflens: cannot open ${path}: ${(e as Error).message}`);
  }
  return {
    name: path,
    size,
    read: async (offset, length) => {
      const fh = await open(path, 'r');
      try {
        const buf = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
          if (bytesRead === 0) throw new WeightsFormatError(path, 'truncated', `unexpected end of file at byte ${offset + done}`);
          done += bytesRead;
        }
        return buf;
      } finally {
        await fh.close();
      }
    },
  };
}
