// Training checkpoints and shipped weights as safetensors bytes (browser-safe: no file system here).
import type { Tensor } from '../autograd/tensor.js';
import { float32ToHalfBits } from '../io/dtype.js';
import { bytesSource } from '../io/byte-source.js';
import { SafetensorsFile } from '../io/safetensors.js';
import { writeSafetensors, type TensorToWrite } from '../io/safetensors-write.js';
import type { Module } from '../nn/module.js';
import type { Optimizer } from '../nn/optim.js';

async function hostF32(t: Tensor): Promise<Float32Array> {
  const a = await t.toArray();
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

/**
 * The model's state dict as safetensors. f16 halves the bytes (shipping); BatchNorm's
 * num_batches_tracked and anything not floating stay f32.
 */
export async function weightsBytes(model: Module, dtype: 'f16' | 'f32' = 'f32', metadata?: Record<string, string>): Promise<Uint8Array> {
  const out: Record<string, TensorToWrite> = {};
  for (const [name, t] of model.stateDict()) {
    const data = await hostF32(t);
    const half = dtype === 'f16' && !name.endsWith('num_batches_tracked');
    out[name] = half ? { dtype: 'F16', shape: t.shape, data: float32ToHalfBits(data) } : { dtype: 'F32', shape: t.shape, data };
  }
  return writeSafetensors(out, metadata);
}

export interface TrainState {
  step: number;
  /** Milliseconds of training so far, over all resumed runs. */
  elapsedMs: number;
  /** Anything else the task keeps (loss history, EMA decay...). */
  extra: Record<string, unknown>;
}

/** Model, optimiser state, extra tensors (e.g. EMA weights) and progress, in one file. */
export async function checkpointBytes(model: Module, opt: Optimizer, state: TrainState, extraTensors: readonly Tensor[] = []): Promise<Uint8Array> {
  const out: Record<string, TensorToWrite> = {};
  for (const [name, t] of model.stateDict()) out[`model.${name}`] = { dtype: 'F32', shape: t.shape, data: await hostF32(t) };
  const st = opt.stateTensors();
  for (let i = 0; i < st.length; i++) out[`optim.${i}`] = { dtype: 'F32', shape: st[i].shape, data: await hostF32(st[i]) };
  for (let i = 0; i < extraTensors.length; i++) out[`extra.${i}`] = { dtype: 'F32', shape: extraTensors[i].shape, data: await hostF32(extraTensors[i]) };
  return writeSafetensors(out, { state: JSON.stringify(state), optimSteps: String(opt.steps) });
}

/** Restores what checkpointBytes wrote into the same model, optimiser and extra tensors. */
export async function restoreCheckpoint(
  bytes: Uint8Array, name: string, model: Module, opt: Optimizer, extraTensors: readonly Tensor[] = [],
): Promise<TrainState> {
  const f = await SafetensorsFile.open(bytesSource(name, bytes));
  // In place: the optimiser holds the parameter tensors themselves.
  const own = model.stateDict();
  const stored = f.names().filter((k) => k.startsWith('model.')).map((k) => k.slice(6));
  const missing = [...own.keys()].filter((k) => !stored.includes(k));
  if (missing.length || stored.length !== own.size) {
    throw new Error(
      `cflens: checkpoint ${name} does not fit this model (missing: ${missing.slice(0, 5).join(', ') || 'none'}; ` +
      `${stored.length} stored vs ${own.size} in the model): delete it to start over`,
    );
  }
  for (const [key, t] of own) {
    const v = (await f.read(`model.${key}`, { float32: true })).data as Float32Array;
    if (v.length !== t.size) throw new Error(`cflens: checkpoint ${name}: ${key} has ${v.length} values, the model ${t.size}`);
    t.ctx.overwrite(t.buffer, v);
  }
  const values: Float32Array[] = [];
  for (let i = 0; f.names().includes(`optim.${i}`); i++) values.push((await f.read(`optim.${i}`, { float32: true })).data as Float32Array);
  opt.loadState(Number(f.metadata.optimSteps ?? 0), values);
  for (let i = 0; i < extraTensors.length; i++) {
    const t = extraTensors[i];
    const v = (await f.read(`extra.${i}`, { float32: true })).data as Float32Array;
    if (v.length !== t.size) throw new Error(`cflens: checkpoint ${name}: extra tensor ${i} has ${v.length} values, expected ${t.size}`);
    t.ctx.overwrite(t.buffer, v);
  }
  return JSON.parse(f.metadata.state) as TrainState;
}

/**
 * Loads shipped weights (a model.safetensors of this model, any float dtype) into the model in place
 * and into `extraTensors` (the EMA copies), to continue training from them.
 */
export async function restoreWeights(bytes: Uint8Array, name: string, model: Module, extraTensors: readonly Tensor[] = []): Promise<void> {
  const f = await SafetensorsFile.open(bytesSource(name, bytes));
  const own = model.stateDict();
  const missing = [...own.keys()].filter((k) => !f.names().includes(k));
  if (missing.length) {
    throw new Error(
      `cflens: ${name} does not fit this model: missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`,
    );
  }
  // extraTensors[i] shadows model.parameters()[i].
  const shadow = new Map(model.parameters().map((p, i) => [p, extraTensors[i]] as const));
  for (const [key, t] of own) {
    const v = (await f.read(key, { float32: true })).data as Float32Array;
    if (v.length !== t.size) throw new Error(`cflens: ${name}: ${key} has ${v.length} values, the model ${t.size}`);
    t.ctx.overwrite(t.buffer, v);
    const e = shadow.get(t);
    if (e) t.ctx.overwrite(e.buffer, v);
  }
}
