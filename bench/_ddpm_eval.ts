import { writeFile } from 'node:fs/promises';
import { initGpu } from '../src/index.js';
import { UNet2DModel } from '../src/models/diffusers/unet-2d.js';
import { SmallConvNet } from '../src/models/small/convnet.js';
import { DDIMScheduler } from '../src/pipelines/ddim.js';
import { ddimSampleUnconditional } from '../src/pipelines/sampling.js';
import { randn } from '../src/ops/creation.js';
import { add, mul } from '../src/ops/elementwise.js';
import { noGrad } from '../src/autograd/grad-mode.js';
import { tidy } from '../src/autograd/scope.js';
import { PROBE_GROUPS, decodeProbe } from '../src/world/probe.js';
import { encodePng, tileImages } from '../src/world/png.js';
import { readFileSync } from 'node:fs';
await initGpu();
const dir = process.argv[2] ?? 'models/defaults/ddpm';
const unet = await UNet2DModel.fromPretrained(dir);
unet.eval();
const probe = await SmallConvNet.fromPretrained('models/defaults/probe');
probe.eval();
const cfg = JSON.parse(readFileSync('models/defaults/ddpm/scheduler_config.json', 'utf8'));
const real = JSON.parse(readFileSync('models/defaults/manifest.json', 'utf8')).models.ddpm.realFrequencies;
const n = 64;
for (const spec of process.argv.slice(3)) {
  const [steps, eta] = spec.split(':').map(Number);
  const t0 = performance.now();
  const sched = new DDIMScheduler(cfg);
  const xT = randn([n, 3, 32, 32], { seed: 4242 });
  const x = noGrad(() => ddimSampleUnconditional({ unet, scheduler: sched, xT, steps, eta, seed: 7, checkpointSteps: false }));
  const host = (await x.toArray()) as Float32Array;
  const rows = noGrad(() => tidy(() => probe.forward(mul(add(x, 1), 0.5))));
  const p = (await rows.toArray()) as Float32Array;
  const per = p.length / n;
  const preds = Array.from({ length: n }, (_, i) => decodeProbe(p, i * per));
  let gap = 0; const fs: Record<string, number> = {};
  for (const g of PROBE_GROUPS) for (const v of g.values) {
    const key = g.kind === 'binary' ? (v ? g.attribute : null) : `${g.attribute}=${v}`;
    if (!key) continue;
    fs[key] = preds.filter((q) => q[g.attribute] === v).length / n;
    gap = Math.max(gap, Math.abs(fs[key] - real[key]));
  }
  const frames = Array.from({ length: n }, (_, i) => host.slice(i * 3072, (i + 1) * 3072));
  const t = tileImages(frames, 32, { cols: 8, scale: 2, range: 'pm1' });
  await writeFile(`/tmp/samples_${steps}_${eta}.png`, encodePng(t.rgb, t.width, t.height));
  console.log(`steps ${steps} eta ${eta}: max gap ${gap.toFixed(3)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`, JSON.stringify(Object.fromEntries(Object.entries(fs).map(([k, v]) => [k, +v.toFixed(2)]))));
  x.dispose(); rows.dispose(); xT.dispose();
}
process.exit(0);
