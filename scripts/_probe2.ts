import { initGpu, randn, conv2d, formatKernelTimes } from '../src/index.ts';
import { setConvAlgo, setConvTile } from '../src/ops/conv.ts';
const ctx = await initGpu();
const B = 16;
for (const [C, H] of [[16, 32], [32, 16], [64, 8]]) {
  const x = randn([B, C, H, H]); const w = randn([C, C, 3, 3]);
  const flops = 2 * B * C * C * 9 * H * H;
  const tiles: any[] = [null, { BM: 16, BN: 64, BK: 8, TM: 4, TN: 4 }, { BM: 32, BN: 64, BK: 8, TM: 4, TN: 4 },{ BM: 32, BN: 128, BK: 8, TM: 4, TN: 8 }, { BM: 64, BN: 64, BK: 8, TM: 4, TN: 4 }, 'direct'];
  for (const t of tiles) {
    if (t === 'direct') { setConvAlgo('direct'); setConvTile(null); } else { setConvAlgo('gemm'); setConvTile(t); }
    try {
      conv2d(x, w, null, { padding: 1 }).dispose(); await ctx.sync();
      ctx.startProfiling();
      for (let i = 0; i < 3; i++) conv2d(x, w, null, { padding: 1 }).dispose();
      const r = await ctx.stopProfiling();
      const ms = r.reduce((a, b) => a + b.ms, 0) / 3;
      console.log(C, H, JSON.stringify(t), ms.toFixed(1), 'ms', (flops / ms / 1e6).toFixed(2), 'GFLOP/s');
    } catch (e) { console.log(C, H, JSON.stringify(t), 'ERR', String(e).slice(0, 100)); }
  }
}
