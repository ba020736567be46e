// cflens convert / inspect under hostile or unlucky input: bounded memory, nothing lost, clear refusals.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convert, inspect } from '../../src/cli/weights.js';
import { SafetensorsFile, bytesSource, writeSafetensors, toFloat32 } from '../../src/io/safetensors.js';
import { stateDictPickle, torchArchive, type TensorRecord } from '../io/pickle-builder.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'cflens-weights-'));
const resnet = new URL('../fixtures/resnet_A/weights.pth', import.meta.url).pathname;

describe('cflens convert: resources', () => {
  it('a .pth whose 2000 tensors share one 4 MiB storage is refused up front, in bounded memory', async () => {
    const numel = 1 << 20;
    const records: Record<string, TensorRecord> = {};
    for (let i = 0; i < 2000; i++) records[`t${i}`] = { storageKey: '0', storageType: 'FloatStorage', storageNumel: numel, size: [numel] };
    const dir = fresh();
    const bomb = join(dir, 'bomb.pth');
    writeFileSync(bomb, torchArchive(stateDictPickle(records), { 0: new Uint8Array(numel * 4) }));
    const out = join(dir, 'out.safetensors');
    const before = process.memoryUsage().arrayBuffers;
    await expect(convert(bomb, out, 'f32')).rejects.toThrow(/bomb\.pth \(4\.\d+ MB\) would become 8\.\d+ GB of f32 tensors, over the limit of .*Nothing was written; pass --max-bytes \d+/);
    expect(existsSync(out)).toBe(false);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(256 * 2 ** 20);
  });

  it('streams: a conversion allowed past the limit writes one tensor at a time and reads back exactly', async () => {
    const numel = 1 << 16;
    const records: Record<string, TensorRecord> = {};
    for (let i = 0; i < 40; i++) records[`t${i}`] = { storageKey: '0', storageType: 'FloatStorage', storageNumel: numel, size: [numel] };
    const dir = fresh();
    const src = join(dir, 'shared.pth');
    const values = Float32Array.from({ length: numel }, (_, i) => Math.sin(i));
    writeFileSync(src, torchArchive(stateDictPickle(records), { 0: new Uint8Array(values.buffer) }));
    const out = join(dir, 'out.safetensors');
    await convert(src, out, 'f32', { maxBytes: 64 * 2 ** 20 });
    const st = await SafetensorsFile.open(bytesSource(out, readFileSync(out)));
    expect(st.names()).toHaveLength(40);
    expect(Array.from(toFloat32(await st.read('t39')))).toEqual(Array.from(values));
  });

  it('a header naming more tensors than any checkpoint holds is refused before per-tensor work', async () => {
    const dir = fresh();
    const entries = Array.from({ length: 100_001 }, (_, i) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`);
    const json = new TextEncoder().encode(`{${entries.join(',')}}`);
    const file = new Uint8Array(8 + json.length);
    new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
    file.set(json, 8);
    writeFileSync(join(dir, 'many.safetensors'), file);
    await expect(inspect(join(dir, 'many.safetensors'), false)).rejects.toThrow(/names 100001 tensors, more than the 100000 cflens reads/);
  });
});

describe('cflens convert: nothing lost', () => {
  it('refuses to replace its own input unless --force, then converts it in place', async () => {
    const dir = fresh();
    const f = join(dir, 'w.safetensors');
    writeFileSync(f, writeSafetensors({ a: { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2.5, -3) } }));
    const original = readFileSync(f);
    await expect(convert(f, f, 'f16')).rejects.toThrow(/is the input itself: the f16 result would replace the original; write elsewhere, or add --force/);
    expect(readFileSync(f).equals(original)).toBe(true);
    await convert(f, f, 'f16', { force: true });
    const st = await SafetensorsFile.open(bytesSource(f, readFileSync(f)));
    expect(st.info('a').dtype).toBe('F16');
    expect(Array.from(toFloat32(await st.read('a')))).toEqual([1, 2.5, -3]);
  });

  it('a damaged input leaves an existing output as it was', async () => {
    const dir = fresh();
    const bad = join(dir, 'bad.pth');
    const records: Record<string, TensorRecord> = {
      a: { storageKey: '0', storageType: 'FloatStorage', storageNumel: 4, size: [4] },
      b: { storageKey: '1', storageType: 'FloatStorage', storageNumel: 4, size: [4] },
    };
    const archive = torchArchive(stateDictPickle(records), { 0: new Uint8Array(16).fill(1), 1: new Uint8Array(16).fill(2) });
    // One bit of storage '1' flipped: its CRC-32 no longer matches.
    const at = Buffer.from(archive).indexOf(Buffer.alloc(16, 2));
    expect(at).toBeGreaterThan(0);
    archive[at + 5] ^= 4;
    writeFileSync(bad, archive);
    const out = join(dir, 'out.safetensors');
    writeFileSync(out, 'previous conversion');
    await expect(convert(bad, out, 'f32')).rejects.toThrow(/fails its CRC-32 check/);
    expect(readFileSync(out, 'utf8')).toBe('previous conversion');
  });

  it('a legacy (pre-zip) .pth is read as one, not misreported as a broken safetensors file', async () => {
    const legacy = new URL('../data/pth_extra/legacy_state.pth', import.meta.url).pathname;
    expect(await inspect(legacy, false)).toMatch(/legacy_state\.pth: \d+ tensors/);
    expect(await inspect(resnet, false)).toMatch(/74 tensors/);
  });
});
