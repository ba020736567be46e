import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPth, SafetensorsFile, stateDictFrom, WeightsFormatError, type PthValue, type TensorData } from '../../src/io/index.js';
import { fileSource } from '../../src/io/node/index.js';
import { bytesOf } from './pickle-builder.js';

// Checkpoints written by PyTorch 1.13 (tools/make-pth-fixtures.py): legacy (non-zip) files, a zip archive
// rewritten as torch writes it on big-endian machines, and complex tensors. Expected values are the
// tensors torch saved, in expected.safetensors.

const dir = new URL('../data/pth_extra/', import.meta.url).pathname;
const path = (rel: string) => {
  if (!existsSync(`${dir}${rel}`)) throw new Error(`missing test/data/pth_extra/${rel}: regenerate it with /usr/bin/python3 tools/make-pth-fixtures.py`);
  return `${dir}${rel}`;
};
const meta = JSON.parse(readFileSync(path('meta.json'), 'utf8')) as {
  cases: Record<string, { note: string; keys: string[]; dtypes: Record<string, string> }>;
  refusals: Record<string, { note: string; tensor: string; torch_dtype: string }>;
};
const same = (a: ArrayBufferView, b: ArrayBufferView) => Buffer.from(bytesOf(a)).equals(Buffer.from(bytesOf(b)));

describe('checkpoints made by torch.save', async () => {
  const expected = await SafetensorsFile.open(fileSource(path('expected.safetensors')));

  it('covers legacy files, big-endian archives and complex tensors', () => {
    expect(Object.keys(meta.cases)).toEqual(['legacy_state', 'legacy_proto4', 'legacy_big_endian_counts', 'big_endian']);
    expect(Object.keys(meta.refusals)).toEqual(['complex64', 'complex128_legacy']);
  });

  for (const [name, c] of Object.entries(meta.cases)) {
    it(`${name}.pth equals what torch saved, bit for bit (${c.note})`, async () => {
      const sd = stateDictFrom(await loadPth(fileSource(path(`${name}.pth`))));
      expect([...sd.keys()]).toEqual(c.keys);
      for (const key of c.keys) {
        const got = sd.get(key)!;
        const want = await expected.read(`${name}/${key}`);
        expect(got.dtype, key).toBe(c.dtypes[key]);
        expect(got.dtype, key).toBe(want.dtype);
        expect(got.shape, key).toEqual(want.shape);
        expect(same(got.data, want.data), key).toBe(true);
      }
    });
  }

  it('keeps tensors that torch saved as one object shared, and views of one storage apart', async () => {
    for (const name of ['legacy_state', 'big_endian']) {
      const tree = (await loadPth(fileSource(path(`${name}.pth`)))) as Map<string, PthValue>;
      const t = (k: string) => tree.get(k) as TensorData;
      expect(t('tied'), name).toBe(t('base'));
      expect(Array.from(t('row').data as Float32Array), name).toEqual([0, 0.25, 0.5, 0.75]);
      expect(Array.from(t('col').data as Float32Array), name).toEqual([-0.5, 0.5, 1.5]);
      expect(t('t').shape, name).toEqual([4, 3]);
    }
  });

  for (const [name, r] of Object.entries(meta.refusals)) {
    it(`${name}.pth is refused naming tensor '${r.tensor}' and its dtype ${r.torch_dtype}, with what to do`, async () => {
      const err = await loadPth(fileSource(path(`${name}.pth`))).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WeightsFormatError);
      const e = err as WeightsFormatError;
      expect(e.code).toBe('bad-dtype');
      expect(e.tensor).toBe(r.tensor);
      expect(e.message).toContain(`${name}.pth (tensor '${r.tensor}'): it has dtype ${r.torch_dtype}, which cflens does not support (its tensors are real`);
      expect(e.message).toContain('torch.view_as_real');
      expect(e.message).not.toMatch(/re-save the state dict/);
    });
  }
});
