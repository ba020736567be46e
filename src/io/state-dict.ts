import { WeightsFormatError } from './errors.js';
import { describeValue } from './pickle.js';
import type { TensorData } from './tensor-data.js';

const STATE_DICT_KEYS = ['state_dict', 'model_state_dict', 'model'];

const isTensorData = (v: unknown): v is TensorData =>
  !!v && typeof v === 'object' && !(v instanceof Map) && 'dtype' in v && 'shape' in v && 'data' in v && ArrayBuffer.isView((v as TensorData).data);

/** Every tensor under a dict, nested dicts joined with '.', each renamed to its key. */
function flattenTensors(root: Map<unknown, unknown>): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  const onPath = new Set<unknown>();
  const walk = (m: Map<unknown, unknown>, prefix: string) => {
    if (onPath.has(m)) return; // a dict inside itself
    onPath.add(m);
    for (const [k, v] of m) {
      const name = prefix ? `${prefix}.${String(k)}` : String(k);
      if (isTensorData(v)) out.set(name, v.name === name ? v : { ...v, name });
      else if (v instanceof Map) walk(v, name);
    }
    onPath.delete(m);
  };
  walk(root, '');
  return out;
}

/**
 * The state dict inside what loadPth returned: the dict itself when it holds tensors directly (nested
 * dicts flattened with dotted names), else the one under 'state_dict', 'model_state_dict' or 'model'
 * (training checkpoints), else every tensor found under the dict.
 */
export function stateDictFrom(obj: unknown, file = 'checkpoint'): Map<string, TensorData> {
  if (obj instanceof Map) {
    if ([...obj.values()].some(isTensorData)) return flattenTensors(obj);
    for (const key of STATE_DICT_KEYS) {
      const inner = obj.get(key);
      if (inner instanceof Map) {
        const sd = flattenTensors(inner);
        if (sd.size) return sd;
      }
    }
    const all = flattenTensors(obj);
    if (all.size) return all;
  }
  const keys = obj instanceof Map ? `a dict with keys ${[...obj.keys()].slice(0, 10).map(describeValue).join(', ') || '(none)'}` : describeValue(obj);
  throw new WeightsFormatError(
    file, 'no-state-dict',
    `no tensors found in ${keys}; expected a state dict (torch.save(model.state_dict(), path)) or a checkpoint dict holding one under ` +
    `${STATE_DICT_KEYS.map((k) => `'${k}'`).join(', ')}`,
  );
}
