import { statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { checkRange, type ByteSource } from '../byte-source.js';
import { WeightsFormatError } from '../errors.js';

/**
 * A file on disk read by byte ranges, so a multi-gigabyte checkpoint never sits in one buffer. Each read
 * opens and closes the file: no handle outlives a call.
 */
export function fileSource(path: string): ByteSource {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a regular file');
    size = st.size;
  } catch (e) {
    throw new Error(`cflens: cannot open ${path}: ${(e as Error).message}`);
  }
  return {
    name: path,
    size,
    read: async (offset, length) => {
      checkRange(path, size, offset, length);
      const fh = await open(path, 'r');
      try {
        const buf = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
          if (bytesRead === 0) {
            throw new WeightsFormatError(
              path, 'truncated', `the file ended at byte ${offset + done} while reading ${length} bytes at ${offset}: it shrank while being read`,
            );
          }
          done += bytesRead;
        }
        return buf;
      } finally {
        await fh.close();
      }
    },
  };
}
