/** What was wrong with a weights file; stable strings that callers and tests can branch on. */
export type WeightsErrorCode =
  | 'truncated' | 'out-of-range' | 'too-large' | 'too-many-tensors'
  | 'header-too-small' | 'header-too-large' | 'bad-json' | 'bad-metadata' | 'bad-entry'
  | 'bad-dtype' | 'bad-shape' | 'bad-offsets' | 'shape-mismatch' | 'overlap' | 'missing-tensor'
  | 'duplicate-key' | 'gap' | 'trailing-bytes'
  | 'bad-zip' | 'bad-crc' | 'compressed-zip' | 'encrypted-zip'
  | 'bad-pickle' | 'disallowed-global' | 'legacy-pth' | 'bad-pth' | 'big-endian' | 'no-state-dict';

/** A weights file that cannot be read as claimed; the message names the file, the tensor, the fault and the remedy. */
export class WeightsFormatError extends Error {
  constructor(
    readonly file: string,
    readonly code: WeightsErrorCode,
    detail: string,
    readonly tensor?: string,
  ) {
    super(`cflens: ${file}${tensor !== undefined ? ` (tensor '${tensor}')` : ''}: ${detail}`);
    this.name = 'WeightsFormatError';
  }
}
