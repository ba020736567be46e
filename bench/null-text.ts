// Null-text inversion on the fixture UNet (test/fixtures/unet_cond_A, ddim_A's scheduler and latents):
// reconstruction PSNR of the guided DDIM sample from the inverted z_T, before and after optimising ∅_t.
import { readFileSync } from 'node:fs';
import { fromArray, initGpu, noGrad } from '../src/index.js';
import { UNet2DConditionModel } from '../src/models/diffusers/unet-2d-condition.js';
import { DDIMScheduler } from '../src/schedulers/ddim.js';
import { nullTextInversion, psnr } from '../src/pipelines/null-text.js';
import { ddimSample } from '../src/pipelines/sampling.js';
import { SafetensorsFile, toFloat32 } from '../src/io/safetensors.js';
import { fileSource } from '../src/io/node/file-source.js';

export async function runNullTextBench({ quick = false }: { quick?: boolean } = {}) {
  await initGpu();
  const fx = new URL('../test/fixtures/', import.meta.url).pathname;
  const unet = await UNet2DConditionModel.fromPretrained(`${fx}unet_cond_A`);
  const io = await SafetensorsFile.open(fileSource(`${fx}ddim_A/io.safetensors`));
  const get = async (k: string) => { const t = await io.read(k); return fromArray(toFloat32(t), t.shape); };
  const sched = JSON.parse(readFileSync(`${fx}ddim_A/config.json`, 'utf8')).scheduler;
  const [x0, cond, uncond] = [await get('inv_x0'), await get('cond'), await get('uncond')];
  const steps = quick ? 4 : 10;
  const guidance = 7.5;
  const t0 = performance.now();
  const res = await nullTextInversion({ unet, scheduler: new DDIMScheduler(sched), x0, cond, uncond, steps, guidanceScale: guidance, innerSteps: 10 });
  const secs = (performance.now() - t0) / 1000;
  const zT = res.trajectory[steps];
  const sample = (u: Parameters<typeof ddimSample>[0]['uncond']) => noGrad(
    () => ddimSample({ unet, scheduler: new DDIMScheduler(sched), zT, cond, uncond: u, guidanceScale: guidance, steps }).latents,
  );
  const rows = [
    { method: 'DDIM inversion, guided sampling (∅ fixed)', psnrDb: await psnr(sample(uncond), x0, 2) },
    { method: 'null-text inversion (∅_t optimised)', psnrDb: await psnr(sample(res.nullEmbeddings), x0, 2) },
    {
      method: 'DDIM inversion, unguided reconstruction',
      psnrDb: await psnr(noGrad(() => ddimSample({ unet, scheduler: new DDIMScheduler(sched), zT, cond, guidanceScale: 1, steps }).latents), x0, 2),
    },
  ];
  return rows.map((r) => ({ ...r, steps, guidance, optimiseSeconds: secs }));
}
