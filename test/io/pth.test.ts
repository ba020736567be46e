import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource, loadPth, stateDictFrom, toFloat32, SafetensorsFile, WeightsFormatError, type TensorData } from '../../src/io/index.js';
import { fileSource } from '../../src/io/node/file-source.js';
import { writeZip } from '../helpers/zip-writer.js';

const dir = new URL('../fixtures/pth_cases/', import.meta.url).pathname;
const meta = JSON.parse(readFileSync(`${dir}meta.json`, 'utf8'));
const TORCH_TO_ST: Record<string, string> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', int64: 'I64' };

function flatten(v: unknown, prefix = '', out = new Map<string, TensorData>()): Map<string, TensorData> {
  if (v instanceof Map) for (const [k, x] of v) flatten(x, prefix ? `${prefix}.${String(k)}` : String(k), out);
  else if (v && typeof v === 'object' && 'dtype' in v && 'data' in v) out.set(prefix, v as TensorData);
  return out;
}

describe('torch.save reader', async () => {
  const expected = await SafetensorsFile.open(fileSource(`${dir}expected.safetensors`));
  for (const [name, c] of Object.entries(meta.cases) as [string, { keys: string[]; dtypes: Record<string, string> }][]) {
    it(`reads ${name}.pth exactly: ${c.keys.join(', ')}`, async () => {
      const tensors = flatten(await loadPth(fileSource(`${dir}${name}.pth`)));
      for (const key of c.keys) {
        const got = tensors.get(key);
        expect(got, key).toBeDefined();
        expect(got!.dtype).toBe(TORCH_TO_ST[c.dtypes[key]]);
        const want = await expected.read(`${name}/${key}`);
        expect(got!.shape).toEqual(want.shape);
        expect(Array.from(toFloat32(got!))).toEqual(Array.from(toFloat32(want)));
      }
    });
  }

  it('finds the state dict inside a training checkpoint', async () => {
    const sd = stateDictFrom(await loadPth(fileSource(`${dir}checkpoint.pth`)));
    expect([...sd.keys()].sort()).toEqual(['0.bias', '0.weight', '1.bias', '1.num_batches_tracked', '1.running_mean', '1.running_var', '1.weight']);
  });

  it('reads torchvision weights.pth identically to weights.safetensors', async () => {
    const base = new URL('../fixtures/resnet_A/', import.meta.url).pathname;
    const pth = stateDictFrom(await loadPth(fileSource(`${base}weights.pth`)));
    const st = await SafetensorsFile.open(fileSource(`${base}weights.safetensors`));
    for (const k of st.names()) {
      expect(Array.from(toFloat32(pth.get(k)!)), k).toEqual(Array.from(toFloat32(await st.read(k))));
    }
    expect(pth.get('bn1.num_batches_tracked')?.dtype).toBe('I64');
  });

  const pickleWithGlobal = (module: string, name: string) => {
    const enc = new TextEncoder();
    // PROTO 2, GLOBAL module name, SHORT_BINUNICODE 'echo', TUPLE1, REDUCE, STOP
    return Uint8Array.from([0x80, 2, 0x63, ...enc.encode(`${module}\n${name}\n`), 0x8c, 4, ...enc.encode('echo'), 0x85, 0x52, 0x2e]);
  };

  for (const [m, n] of [['os', 'system'], ['posix', 'system'], ['builtins', 'eval'], ['subprocess', 'Popen'], ['torch', 'load']]) {
    it(`refuses a pickle that names ${m}.${n}, naming it, and executes nothing`, async () => {
      const zip = writeZip({ 'archive/data.pkl': pickleWithGlobal(m, n) });
      const err = (await loadPth(bytesSource('evil.pth', zip)).catch((e) => e)) as WeightsFormatError;
      expect(err).toBeInstanceOf(WeightsFormatError);
      expect(err.code).toBe('disallowed-global');
      expect(err.message).toContain(`${m}.${n}`);
    });
  }

  it('explains legacy (non-zip) torch files', async () => {
    const legacy = Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
    const err = (await loadPth(bytesSource('old.pt', legacy)).catch((e) => e)) as WeightsFormatError;
    expect(err.code).toBe('legacy-pth');
    expect(err.message).toMatch(/re-save it with torch >= 1\.6/);
  });
});
