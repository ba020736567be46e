// The DDPM training step (the default UNet2DModel, batch 16 at 32×32: forward, MSE to the noise,
// backward, AdamW), next to the same step in PyTorch on this machine's CPU (scripts/dev/torch_unet_step.py,
// Debian's python3-torch, same weights, checked to give the same forward first), and a 1024² matmul
// on the same adapter: useful GFLOP/s of the step as a share of what the matmul kernel reaches.
//   npm run bench -- train-step [--iters N]
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backward, fromArray, initGpu, mseLoss, noGrad, randn, tidy, type GpuContext } from '../src/index.js';
import { UNet2DModel } from '../src/models/diffusers/unet-2d.js';
import { matmul } from '../src/ops/matmul.js';
import { AdamW } from '../src/nn/optim.js';
import { timeAsync } from './lib.js';

export interface TrainStepRow { name: string; ms: number; gflops: number; note: string }

const FOLDER = 'models/defaults/ddpm';
const PYTHON = '/usr/bin/python3';
const SCRIPT = 'scripts/dev/torch_unet_step.py';

/** The forward on fixed inputs, compared with PyTorch's on the same weights: max |Δ| (null without torch). */
async function checkAgainstTorch(unet: UNet2DModel, work: string): Promise<number | null> {
  const shape = [2, 3, 32, 32];
  const x = Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(0.37 * i));
  const t = [10, 500];
  const file = join(work, 'train-step-check.json');
  writeFileSync(file, JSON.stringify({ shape, x, t }));
  const theirs = JSON.parse(execFileSync(PYTHON, [SCRIPT, FOLDER, '--check', file], { encoding: 'utf8' })) as { check: number[] };
  const y = noGrad(() => tidy(() => unet.forward(fromArray(Float32Array.from(x), shape), t)));
  const ours = Array.from(await y.toArray());
  y.dispose();
  return ours.reduce((m: number, v: number, i: number) => Math.max(m, Math.abs(v - theirs.check[i])), 0);
}

export async function runTrainStepBench(o: { quick?: boolean; iters?: number; ctx?: GpuContext; log?: (l: string) => void } = {}) {
  const ctx = o.ctx ?? await initGpu();
  const log = o.log ?? console.log;
  const iters = o.iters ?? (o.quick ? 3 : 8);
  const batch = 16;
  const work = '.cache';
  const torch = existsSync(PYTHON) && existsSync(SCRIPT);
  const unet = await UNet2DModel.fromPretrained(FOLDER);
  const maxDiff = torch ? await checkAgainstTorch(unet, work) : null;
  log(`forward vs PyTorch on the shipped weights: max |Δ| ${maxDiff ?? 'n/a (no python3-torch)'}`);
  if (maxDiff !== null && !(maxDiff < 1e-3)) throw new Error(`the PyTorch model does not compute cflens's forward (max |Δ| ${maxDiff}): fix ${SCRIPT}`);
  const ref = torch
    ? JSON.parse(execFileSync(PYTHON, [SCRIPT, FOLDER, '--steps', String(iters), '--batch', String(batch), '--threads', '2'], { encoding: 'utf8' })) as {
      stepMs: number; forwardFlops: number; torch: string; threads: number;
    }
    : null;
  const stepFlops = ref ? 3 * ref.forwardFlops : NaN; // backward ≈ 2 forwards (input and weight gradients)

  const x0 = randn([batch, 3, 32, 32], { seed: 1 });
  const eps = randn([batch, 3, 32, 32], { seed: 2 });
  const ts = Array.from({ length: batch }, (_, i) => (i * 61) % 1000);
  const sa = fromArray(ts.map((t) => Math.cos((t / 1000) * Math.PI / 2)), [batch, 1, 1, 1]);
  const noisy = tidy(() => x0.mul(sa).add(eps.mul(sa.mul(sa).neg().add(1).sqrt())));
  const opt = new AdamW(unet.parameters(), { lr: 1e-4, weightDecay: 1e-4 });
  const ours = await timeAsync('cflens step', async () => {
    opt.zeroGrad();
    const l = tidy(() => {
      const loss = mseLoss(unet.forward(noisy, ts), eps);
      backward(loss);
      return loss;
    });
    opt.step();
    await l.item();
    l.dispose();
  }, { iterations: iters, time: 0, warmupIterations: 2 });

  const a = randn([1024, 1024], { seed: 3 });
  const b = randn([1024, 1024], { seed: 4 });
  const mm = await timeAsync('matmul 1024', async () => {
    const c = matmul(a, b);
    await ctx.sync();
    c.dispose();
  }, { iterations: iters, time: 0, warmupIterations: 2 });
  for (const t of [x0, eps, sa, noisy, a, b]) t.dispose();
  opt.dispose?.();
  unet.dispose();

  const mmGflops = (2 * 1024 ** 3) / (mm.ms * 1e6);
  const rows: TrainStepRow[] = [
    {
      name: 'cflens DDPM step (batch 16, 32×32)', ms: ours.ms, gflops: stepFlops / (ours.ms * 1e6),
      note: `CPU ${ours.cpuMs.toFixed(0)} ms per step, all threads`,
    },
    ...(ref ? [{
      name: `PyTorch ${ref.torch} CPU, ${ref.threads} threads`, ms: ref.stepMs, gflops: stepFlops / (ref.stepMs * 1e6), note: 'same model and weights',
    }] : []),
    { name: 'cflens matmul 1024²', ms: mm.ms, gflops: mmGflops, note: 'the same adapter' },
  ];
  const extra = {
    forwardFlops: ref?.forwardFlops ?? null, stepFlops, forwardMaxDiffVsTorch: maxDiff,
    stepShareOfMatmul: stepFlops / (ours.ms * 1e6) / mmGflops, torchOverCflens: ref ? ref.stepMs / ours.ms : null,
    note: 'useful FLOPs: convolutions, linears and attention products, backward counted as 2 forwards',
  };
  log(JSON.stringify(extra));
  return { rows, extra };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runTrainStepBench();
  console.table(r.rows);
  process.exit(0);
}
