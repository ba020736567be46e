// UMO's search state between passes (directions, each edit's Adam state, the pass count and history) as
// safetensors bytes, so that an interrupted or killed diagnosis resumes where it was (cflens diagnose --resume).
import { bytesSource } from '../io/byte-source.js';
import { SafetensorsFile } from '../io/safetensors.js';
import { writeSafetensors, type TensorToWrite } from '../io/safetensors-write.js';
import type { UmoIteration } from './umo.js';

export interface UmoState {
  /** Passes done. */
  pass: number;
  /** The directions' values and shape. */
  shape: number[];
  directions: Float32Array[];
  /** Per edit, its Adam's step count and state tensors (Optimizer.stateTensors order). */
  optimizers: { steps: number; values: Float32Array[] }[];
  history: UmoIteration[];
}

export function umoStateBytes(s: UmoState): Uint8Array {
  const tensors: Record<string, TensorToWrite> = {};
  s.directions.forEach((d, j) => { tensors[`direction.${j}`] = { dtype: 'F32', shape: s.shape, data: d }; });
  s.optimizers.forEach((o, j) => o.values.forEach((v, i) => { tensors[`optim.${j}.${i}`] = { dtype: 'F32', shape: [v.length], data: v }; }));
  return writeSafetensors(tensors, {
    format: 'cflens-umo-state', pass: String(s.pass), shape: JSON.stringify(s.shape),
    optimSteps: JSON.stringify(s.optimizers.map((o) => o.steps)), history: JSON.stringify(s.history),
  });
}

export async function readUmoState(bytes: Uint8Array, name: string): Promise<UmoState> {
  const f = await SafetensorsFile.open(bytesSource(name, bytes));
  const m = f.metadata;
  if (m.format !== 'cflens-umo-state') throw new Error(`cflens: ${name} is not a UMO search state (metadata format '${String(m.format)}')`);
  const steps = JSON.parse(m.optimSteps) as number[];
  const read = async (key: string) => (await f.read(key, { float32: true })).data as Float32Array;
  const directions: Float32Array[] = [];
  const optimizers: UmoState['optimizers'] = [];
  for (let j = 0; j < steps.length; j++) {
    directions.push(await read(`direction.${j}`));
    const values: Float32Array[] = [];
    for (let i = 0; f.names().includes(`optim.${j}.${i}`); i++) values.push(await read(`optim.${j}.${i}`));
    optimizers.push({ steps: steps[j], values });
  }
  return { pass: Number(m.pass), shape: JSON.parse(m.shape) as number[], directions, optimizers, history: JSON.parse(m.history) as UmoIteration[] };
}
