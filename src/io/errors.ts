/** A weights file that cannot be read as claimed; names the file, the tensor and what to do. */
export class WeightsFormatError extends Error {
  constructor(readonly file: string, readonly code: string, detail: string, readonly tensor?: string) {
    super(`cflens: ${file}${tensor ? ` (tensor '${tensor}')` : ''}: ${detail}`);
    this.name = 'WeightsFormatError';
  }
}
