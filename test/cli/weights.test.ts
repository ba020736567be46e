import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convert, inspect } from '../../src/cli/weights.js';
import { bytesSource, SafetensorsFile, toFloat32 } from '../../src/io/index.js';
import { loadPth, stateDictFrom } from '../../src/io/pth.js';
import { fileSource } from '../../src/io/node/file-source.js';

const resnet = new URL('../fixtures/resnet_A/', import.meta.url).pathname;

describe('cflens inspect / convert', () => {
  it('inspect lists tensors, dtypes, shapes and total bytes of a .pth and of a model folder', async () => {
    const text = await inspect(`${resnet}weights.pth`, false);
    expect(text).toMatch(/74 tensors/);
    expect(text).toMatch(/conv1\.weight\s+F16\s+\[64, 3, 7, 7\]/);
    const j = JSON.parse(await inspect(new URL('../fixtures/unet_cond_A', import.meta.url).pathname, true));
    expect(j.file).toMatch(/weights\.safetensors$/);
    expect(j.totalBytes).toBe(j.parameters * 4);
  });

  it('convert writes a safetensors file with the same values (f32) or their f16 rounding', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cflens-')), 'r.safetensors');
    await convert(`${resnet}weights.pth`, out, 'f32');
    const st = await SafetensorsFile.open(bytesSource(out, readFileSync(out)));
    const src = stateDictFrom(await loadPth(fileSource(`${resnet}weights.pth`)));
    expect(st.names().sort()).toEqual([...src.keys()].sort());
    expect(Array.from(toFloat32(await st.read('layer1.0.conv1.weight')))).toEqual(Array.from(toFloat32(src.get('layer1.0.conv1.weight')!)));
    await convert(`${resnet}weights.pth`, out, 'f16');
    const half = await SafetensorsFile.open(fileSource(out));
    expect(half.info('fc.weight').dtype).toBe('F16');
    expect(Array.from(toFloat32(await half.read('fc.weight')))).toEqual(Array.from(toFloat32(src.get('fc.weight')!)));
  });

  it('names a missing path', async () => {
    await expect(inspect('/no/such/file.pth', false)).rejects.toThrow(/no such file or folder: \/no\/such\/file\.pth/);
  });
});
