// Builds zip archives the way torch.save does (stored entries, data aligned to 64 bytes), with switches
// for what the reader must handle or refuse: ZIP64 records, compressed or encrypted entries.

export interface ZipFile {
  name: string;
  data: Uint8Array;
  method?: number;
  flags?: number;
  /** Recorded instead of the data's CRC-32 (in both headers). */
  crc?: number;
}

/** CRC-32 bit by bit, straight from its definition (independent of the reader's table-driven one). */
export function referenceCrc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipOptions {
  /** Saturate the 32-bit fields and write ZIP64 extra fields, the ZIP64 EOCD and its locator. */
  zip64?: boolean;
  /** Pad each local header's extra field so data starts at a multiple of this (torch uses 64). */
  align?: number;
  /** Bytes added to every offset (for placing the archive inside a larger virtual file). */
  base?: number;
}

const le = (n: number, bytes: number): number[] => {
  const out: number[] = [];
  for (let i = 0; i < bytes; i++) out.push(Math.floor(n / 2 ** (8 * i)) % 256);
  return out;
};

/** Returns the archive's parts as [offset, bytes] regions (contiguous unless a part is placed by the caller). */
export function zipParts(files: ZipFile[], opts: ZipOptions = {}): { local: Uint8Array; directory: (directoryOffset: number) => Uint8Array } {
  const enc = new TextEncoder();
  const base = opts.base ?? 0;
  const local: number[] = [];
  const entries: Array<{ file: ZipFile; name: Uint8Array; offset: number; crc: number }> = [];
  for (const file of files) {
    const name = enc.encode(file.name);
    const offset = base + local.length;
    const crc = file.crc ?? referenceCrc32(file.data);
    // A ZIP64 local header saturates its sizes and gives them in extra field 0x0001.
    const zip64Extra = opts.zip64 ? [...le(1, 2), ...le(16, 2), ...le(file.data.length, 8), ...le(file.data.length, 8)] : [];
    let extra = zip64Extra;
    if (opts.align) {
      const pad = (opts.align - ((offset + 30 + name.length + zip64Extra.length + 4) % opts.align)) % opts.align;
      extra = [...zip64Extra, ...le(0x4b50 /* torch's padding id: 'FB' in practice; any id works */, 2), ...le(pad, 2), ...new Array(pad).fill(0x5a)];
    }
    const size32 = opts.zip64 ? 0xffffffff : file.data.length;
    local.push(
      ...le(0x04034b50, 4), ...le(20, 2), ...le(file.flags ?? 0, 2), ...le(file.method ?? 0, 2), 0, 0, 0, 0, ...le(crc, 4),
      ...le(size32, 4), ...le(size32, 4), ...le(name.length, 2), ...le(extra.length, 2), ...name, ...extra,
    );
    for (let i = 0; i < file.data.length; i += 8192) local.push(...file.data.subarray(i, i + 8192));
    entries.push({ file, name, offset, crc });
  }
  const directory = (cdOffset: number): Uint8Array => {
    const cd: number[] = [];
    for (const { file, name, offset, crc } of entries) {
      const z = opts.zip64;
      const extra = z ? [...le(1, 2), ...le(24, 2), ...le(file.data.length, 8), ...le(file.data.length, 8), ...le(offset, 8)] : [];
      const sat = (v: number) => (z ? 0xffffffff : v);
      cd.push(
        ...le(0x02014b50, 4), ...le(45, 2), ...le(45, 2), ...le(file.flags ?? 0, 2), ...le(file.method ?? 0, 2), 0, 0, 0, 0, ...le(crc, 4),
        ...le(sat(file.data.length), 4), ...le(sat(file.data.length), 4), ...le(name.length, 2), ...le(extra.length, 2),
        ...le(0, 2), ...le(0, 2), ...le(0, 2), ...le(0, 4), ...le(sat(offset), 4), ...name, ...extra,
      );
    }
    const cdSize = cd.length;
    const tail: number[] = [];
    if (opts.zip64) {
      const z64At = cdOffset + cdSize;
      tail.push(
        ...le(0x06064b50, 4), ...le(44, 8), ...le(45, 2), ...le(45, 2), ...le(0, 4), ...le(0, 4),
        ...le(entries.length, 8), ...le(entries.length, 8), ...le(cdSize, 8), ...le(cdOffset, 8),
      );
      tail.push(...le(0x07064b50, 4), ...le(0, 4), ...le(z64At, 8), ...le(1, 4));
    }
    const sat16 = (v: number) => (opts.zip64 ? 0xffff : v);
    const sat32 = (v: number) => (opts.zip64 ? 0xffffffff : v);
    tail.push(
      ...le(0x06054b50, 4), 0, 0, 0, 0, ...le(sat16(entries.length), 2), ...le(sat16(entries.length), 2),
      ...le(sat32(cdSize), 4), ...le(sat32(cdOffset), 4), 0, 0,
    );
    return Uint8Array.from([...cd, ...tail]);
  };
  return { local: Uint8Array.from(local), directory };
}

export function buildZip(files: ZipFile[] | Record<string, Uint8Array>, opts: ZipOptions = {}): Uint8Array {
  const list = Array.isArray(files) ? files : Object.entries(files).map(([name, data]) => ({ name, data }));
  const { local, directory } = zipParts(list, opts);
  const dir = directory((opts.base ?? 0) + local.length);
  const out = new Uint8Array(local.length + dir.length);
  out.set(local);
  out.set(dir, local.length);
  return out;
}
