#!/usr/bin/env python3
"""Writes test/data/pth_extra/: small checkpoints made by PyTorch itself, and the values it saved.

Dev-only: the product and the tests never run Python. Needs torch (Debian's python3-torch 1.13 works):

    /usr/bin/python3 tools/make-pth-fixtures.py

Every expected value comes from the tensors torch saved, written to expected.safetensors (plain struct +
json, no safetensors package); every file is loaded back with torch.load first (weights_only=True where torch 1.13 can), so
the fixtures are what torch reads. The big-endian variants (which torch 1.13 cannot write on this
machine) are byte-level rewrites of torch's own files, done the way torch writes them on big-endian
machines; their expected values are the little-endian originals'.
"""
import collections
import io
import json
import os
import pickle
import pickletools
import struct
import sys
import zipfile

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'data', 'pth_extra')

ST_DTYPES = {
    torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.float64: 'F64', torch.int64: 'I64',
    torch.int32: 'I32', torch.int16: 'I16', torch.int8: 'I8', torch.uint8: 'U8', torch.bool: 'BOOL',
}


def tensor_bytes(t):
    flat = t.detach().contiguous().reshape(-1)
    if t.dtype == torch.bfloat16:
        flat = flat.view(torch.int16)
    return flat.numpy().tobytes()


def write_safetensors(path, tensors):
    header, blobs, at = {}, [], 0
    for name, t in tensors.items():
        data = tensor_bytes(t)
        header[name] = {'dtype': ST_DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))


def state_dict():
    """A module's state dict (with its _metadata) plus every dtype and shared-storage views."""
    torch.manual_seed(1234)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 2), torch.nn.BatchNorm2d(2))
    model[1].num_batches_tracked.fill_(7)
    sd = model.state_dict()
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25 - 1
    sd['base'] = base
    sd['row'] = base[1]                      # offset view of base's storage
    sd['col'] = base[:, 2]                   # strided view
    sd['t'] = base.t()                       # non-contiguous (transposed)
    sd['tied'] = base                        # the same tensor twice
    sd['half'] = torch.tensor([1.0, -2.5, 65504.0, 6e-8, float('inf'), float('nan')], dtype=torch.float16)
    sd['half_slice'] = sd['half'][1:5:2]
    sd['bf16'] = torch.tensor([[1.0, -3.0e38], [1e-38, 0.15625]], dtype=torch.bfloat16)
    sd['f64'] = torch.tensor([3.141592653589793, -0.0], dtype=torch.float64)
    sd['i64'] = torch.tensor([-(2 ** 62), 2 ** 53 + 1, 5], dtype=torch.int64)
    sd['i32'] = torch.tensor([-(2 ** 31), 7], dtype=torch.int32)
    sd['i16'] = torch.tensor([-32768, 32767], dtype=torch.int16)
    sd['i8'] = torch.tensor([-128, 127], dtype=torch.int8)
    sd['u8'] = torch.tensor([0, 255], dtype=torch.uint8)
    sd['bool'] = torch.tensor([True, False, True])
    sd['scalar'] = torch.tensor(2.5)
    sd['empty'] = torch.zeros(0, 3)
    return sd


def small_dict():
    base = torch.linspace(-1, 1, 10)
    return collections.OrderedDict([('w', base.reshape(2, 5)), ('w_t', base.reshape(2, 5).t()), ('n', torch.tensor(3))])


def save(obj, legacy, weights_only=True, **kw):
    """torch.save's bytes, checked by loading them back (torch 1.13's weights_only reader knows only protocol 2)."""
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy, **kw)
    raw = buf.getvalue()
    loaded = torch.load(io.BytesIO(raw), weights_only=weights_only)
    for k, v in obj.items():
        assert tensor_bytes(loaded[k]) == tensor_bytes(v), k
    return raw


def pickle_spans(raw, count):
    """[start, end) of the first `count` pickles of a legacy file."""
    f, spans = io.BytesIO(raw), []
    for _ in range(count):
        start = f.tell()
        for _op, _arg, _pos in pickletools.genops(f):
            pass
        spans.append((start, f.tell()))
    return spans


class _Stub:
    def __init__(self, *a, **k):
        pass

    def __setstate__(self, state):
        pass


ELEMENT_BYTES = {'F32': 4, 'F16': 2, 'BF16': 2, 'F64': 8, 'I64': 8, 'I32': 4, 'I16': 2, 'I8': 1, 'U8': 1, 'BOOL': 1}
STORAGE_ST = {'FloatStorage': 'F32', 'HalfStorage': 'F16', 'BFloat16Storage': 'BF16', 'DoubleStorage': 'F64',
              'LongStorage': 'I64', 'IntStorage': 'I32', 'ShortStorage': 'I16', 'CharStorage': 'I8',
              'ByteStorage': 'U8', 'BoolStorage': 'BOOL'}


class _StorageIds(pickle.Unpickler):
    """Reads a torch pickle only for its storage ids: nothing of torch is called."""

    def __init__(self, f):
        super().__init__(f)
        self.element_bytes = {}

    def find_class(self, module, name):
        if (module, name) == ('collections', 'OrderedDict'):
            return collections.OrderedDict
        assert module.startswith('torch'), (module, name)
        return name if name.endswith('Storage') else _Stub

    def persistent_load(self, pid):
        self.element_bytes[pid[2]] = ELEMENT_BYTES[STORAGE_ST[pid[1]]]


def element_bytes(pickle_bytes):
    """Storage key -> element size, from a torch pickle's storage ids."""
    ids = _StorageIds(io.BytesIO(pickle_bytes))
    ids.load()
    return ids.element_bytes


def legacy_big_endian_counts(raw):
    """A legacy file as torch wrote it on a big-endian machine: sys_info says so, element counts are big-endian."""
    _magic, _version, (s0, s1), (p0, p1), (k0, k1) = pickle_spans(raw, 5)
    sys_info = pickle.loads(raw[s0:s1])
    sys_info['little_endian'] = False
    keys = pickle.loads(raw[k0:k1])
    sizes = element_bytes(raw[p0:p1])
    out = bytearray(raw[:s0] + pickle.dumps(sys_info, protocol=2) + raw[p0:k1])
    at = k1
    for key in keys:
        (count,) = struct.unpack('<q', raw[at:at + 8])
        nbytes = count * sizes[key]
        out += struct.pack('>q', count) + raw[at + 8:at + 8 + nbytes]
        at += 8 + nbytes
    assert at == len(raw)
    return bytes(out)


def swap(data, size):
    return b''.join(data[i:i + size][::-1] for i in range(0, len(data), size))


def zip_big_endian(raw, name):
    """A zip checkpoint as torch >= 2.1 writes it on a big-endian machine: byteorder "big", storages big-endian."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    prefix = src.namelist()[0].split('/')[0]
    sizes = element_bytes(src.read(f'{prefix}/data.pkl'))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as out:
        for info in src.infolist():
            rel = info.filename[len(prefix) + 1:]
            data = src.read(info)
            if rel.startswith('data/'):
                data = swap(data, sizes[rel[5:]])
            out.writestr(f'{name}/{rel}', data)
            if rel == 'data.pkl':
                out.writestr(f'{name}/byteorder', b'big')
    return buf.getvalue()


def main():
    os.makedirs(OUT, exist_ok=True)
    sd, small = state_dict(), small_dict()
    files = {
        'legacy_state': (save(sd, legacy=True), sd, 'legacy (non-zip) torch.save of a module state dict with every dtype and shared-storage views, pickle protocol 2'),
        'legacy_proto4': (save(small, legacy=True, weights_only=False, pickle_protocol=4), small, 'legacy torch.save with pickle protocol 4 (FRAME, MEMOIZE)'),
    }
    files['legacy_big_endian_counts'] = (legacy_big_endian_counts(files['legacy_state'][0]), sd, 'legacy_state as older torch releases wrote it on a big-endian machine: sys_info little_endian False, element counts big-endian, data little-endian')
    files['big_endian'] = (zip_big_endian(save(sd, legacy=False), 'big_endian'), sd, 'zip torch.save of the same state dict rewritten as on a big-endian machine (torch >= 2.1): byteorder "big", storage elements byte-swapped')
    complex64 = collections.OrderedDict([('w', torch.ones(2)), ('x', torch.tensor([1 + 2j, 3 - 4j], dtype=torch.complex64))])
    complex128 = collections.OrderedDict([('z', torch.tensor([0.5j], dtype=torch.complex128))])
    refusals = {
        'complex64': (save(complex64, legacy=False), {'tensor': 'x', 'torch_dtype': 'complex64'}, 'zip torch.save with a complex64 tensor'),
        'complex128_legacy': (save(complex128, legacy=True), {'tensor': 'z', 'torch_dtype': 'complex128'}, 'legacy torch.save with a complex128 tensor'),
    }

    expected, meta = {}, {'torch': torch.__version__, 'made_by': 'tools/make-pth-fixtures.py', 'cases': {}, 'refusals': {}}
    for name, (raw, tensors, note) in files.items():
        with open(os.path.join(OUT, f'{name}.pth'), 'wb') as f:
            f.write(raw)
        for k, t in tensors.items():
            expected[f'{name}/{k}'] = t
        meta['cases'][name] = {'note': note, 'keys': list(tensors), 'dtypes': {k: ST_DTYPES[t.dtype] for k, t in tensors.items()}}
    for name, (raw, refusal, note) in refusals.items():
        with open(os.path.join(OUT, f'{name}.pth'), 'wb') as f:
            f.write(raw)
        meta['refusals'][name] = {'note': note, **refusal}
    write_safetensors(os.path.join(OUT, 'expected.safetensors'), expected)
    with open(os.path.join(OUT, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')
    print('wrote', OUT, file=sys.stderr)


if __name__ == '__main__':
    main()
