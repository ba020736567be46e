import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { conv2d, describeFlags, Flags, randn, withFlags, type GpuContext } from '../../src/index.js';
import { setupGpu } from '../helpers/gpu.js';

describe('the flag registry', () => {
  it('docs/flags.md lists every declared flag with its default and variable', () => {
    const doc = readFileSync(new URL('../../docs/flags.md', import.meta.url), 'utf8');
    const rows = describeFlags();
    expect(rows.length).toBeGreaterThan(20);
    for (const r of rows) {
      const line = doc.split('\n').find((l) => l.startsWith(`| \`${r.name}\` |`));
      expect(line, `docs/flags.md has no row for ${r.name}`).toBeDefined();
      expect(line).toContain(`\`${r.default}\``);
      if (r.env) expect(line).toContain(`\`${r.env}\``);
    }
  });

  it('explicit values win over defaults; set returns the previous explicit values; unknown names are refused', () => {
    const f = new Flags();
    expect(f.get('conv.algo')).toBe('auto');
    expect(f.set({ 'conv.algo': 'gemm' })).toEqual({ 'conv.algo': undefined });
    expect(f.get('conv.algo')).toBe('gemm');
    expect(f.set({ 'conv.algo': 'rows' })).toEqual({ 'conv.algo': 'gemm' });
    f.set({ 'conv.algo': undefined });
    expect(f.get('conv.algo')).toBe('auto');
    expect(() => f.set({ 'conv.algorithm': 'gemm' } as never)).toThrow(/no flag named 'conv\.algorithm' \(known: .*conv\.algo/);
  });

  it('CFLENS_* variables set their flags, are validated, and lose to explicit values', () => {
    const saved = process.env.CFLENS_MATMUL;
    try {
      process.env.CFLENS_MATMUL = 'tiled';
      const f = new Flags();
      expect(f.get('matmul.kernel')).toBe('tiled');
      f.set({ 'matmul.kernel': 'regs' });
      expect(f.get('matmul.kernel')).toBe('regs');
      process.env.CFLENS_MATMUL = 'fast';
      expect(() => new Flags().get('matmul.kernel')).toThrow(/CFLENS_MATMUL=fast: expected one of regs, tiled, auto/);
    } finally {
      if (saved === undefined) delete process.env.CFLENS_MATMUL;
      else process.env.CFLENS_MATMUL = saved;
    }
  });

  it('withFlags restores the flags after a function that returns, throws or rejects, and switches the kernel that runs', async () => {
    const ctx: GpuContext = await setupGpu();
    const kernels: string[] = [];
    const dispatch = ctx.dispatch.bind(ctx);
    ctx.dispatch = (p, b, w, name) => {
      if (name) kernels.push(name);
      dispatch(p, b, w, name);
    };
    try {
      const x = randn([1, 2, 5, 5]);
      const w = randn([3, 2, 3, 3]);
      withFlags({ 'conv.algo': 'direct' }, () => conv2d(x, w, null, { padding: 1 }).dispose());
      expect(kernels.at(-1)).toBe('conv_direct');
      expect(ctx.flags.get('conv.algo')).toBe('auto');
      expect(() => withFlags({ 'conv.algo': 'gemm' }, () => { throw new Error('boom'); })).toThrow('boom');
      expect(ctx.flags.get('conv.algo')).toBe('auto');
      await expect(withFlags({ 'conv.algo': 'gemm' }, async () => { throw new Error('later'); })).rejects.toThrow('later');
      expect(ctx.flags.get('conv.algo')).toBe('auto');
      x.dispose();
      w.dispose();
    } finally {
      ctx.dispatch = dispatch;
    }
  });
});
