import { initGpu, UNet2DModel, fromArray, randn, mseLoss, mul, add, AdamW, tidy, backward, WorldDataset, DDIMScheduler, Rng } from '../src/index.ts';
const ctx = await initGpu();
const cfgs = { a: [16, 32, 64], b: [32, 64, 64], c: [32, 64] };
const which = process.argv[2] ?? 'a';
const B = Number(process.argv[3] ?? 16);
const ch = (cfgs as any)[which];
const types = ch.map((_: number, i: number) => i === ch.length - 1 ? 'AttnDownBlock2D' : 'DownBlock2D');
const unet = new UNet2DModel({ sample_size: 32, block_out_channels: ch, down_block_types: types, up_block_types: [...types].reverse().map((t: string) => t.replace('Down', 'Up')), layers_per_block: 1, norm_num_groups: 8, attention_head_dim: 8 });
const params = unet.parameters();
console.log('params', params.reduce((a: number, p: any) => a + p.size, 0));
for (const p of params) p.requiresGrad_();
const opt = new AdamW(params, { lr: 2e-4 });
const ds = new WorldDataset({ n: 1000, size: 32, range: 'pm1', seed: 1 });
const sch = new DDIMScheduler({});
for (let s = 0; s < 2; s++) {
  const t0 = performance.now();
  const idx = Array.from({ length: B }, (_, i) => (s * B + i) % 1000);
  const b = ds.batch(idx);
  const t1 = performance.now();
  const rng = new Rng(s);
  const ts = idx.map(() => Math.floor(rng.float() * 1000));
  const loss = tidy(() => {
    const x0 = fromArray(b.images, [B, 3, 32, 32]);
    const eps = randn([B, 3, 32, 32], { seed: s });
    const sa = fromArray(ts.map((t) => Math.sqrt(sch.alphasCumprod[t])), [B, 1, 1, 1]);
    const sb = fromArray(ts.map((t) => Math.sqrt(1 - sch.alphasCumprod[t])), [B, 1, 1, 1]);
    const xt = add(mul(x0, sa), mul(eps, sb));
    const out = unet.forward(xt, ts);
    const l = mseLoss(out, eps);
    backward(l);
    return l;
  });
  opt.step(); opt.zeroGrad();
  const v = await loss.item(); loss.dispose();
  console.log(s, v.toFixed(4), 'render', (t1 - t0).toFixed(0), 'ms step', (performance.now() - t1).toFixed(0), 'ms');
}
ctx.startProfiling();
{
  const b = ds.batch(Array.from({ length: B }, (_, i) => i));
  const ts = Array.from({ length: B }, (_, i) => i * 50);
  const l = tidy(() => { const x = fromArray(b.images, [B, 3, 32, 32]); const out = unet.forward(x, ts); const l = mseLoss(out, x); backward(l); return l; });
  await l.item(); l.dispose(); opt.step(); opt.zeroGrad();
}
const { formatKernelTimes } = await import('../src/index.ts');
console.log(formatKernelTimes(await ctx.stopProfiling(), 25));
