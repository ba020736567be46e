/** Reverses the bytes of each `elementBytes`-byte element in place: big-endian storages to little-endian. */
export function swapByteOrder(bytes: Uint8Array, elementBytes: number): void {
  if (elementBytes <= 1) return;
  const n = bytes.length - (bytes.length % elementBytes);
  for (let e = 0; e < n; e += elementBytes) {
    for (let i = e, j = e + elementBytes - 1; i < j; i++, j--) {
      const t = bytes[i];
      bytes[i] = bytes[j];
      bytes[j] = t;
    }
  }
}
