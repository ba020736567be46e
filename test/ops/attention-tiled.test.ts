// The tiled attention generator (src/ops/kernels/attention-tiled.ts) against the kernel choice that
// budgets its workgroup memory: the declared arrays of every generated kernel must take exactly the
// bytes attentionKernelConfig counted (more would fail to compile on adapters at their limit).
import { describe, expect, it } from 'vitest';
import { attentionKernelConfig } from '../../src/ops/kernels/attention.js';
import { attentionTiledShader } from '../../src/ops/kernels/attention-tiled.js';

const TYPE_BYTES: Record<string, number> = { f32: 4, vec2f: 8, vec4f: 16 };

/** Bytes of the module's var<workgroup> arrays, evaluating its `const` and `alias` declarations. */
function workgroupBytes(code: string): number {
  const env: Record<string, number> = {};
  const aliases: Record<string, string> = {};
  const evaluate = (expr: string) => {
    const js = expr.replace(/\b(\d+)u\b/g, '$1').replace(/\bmax\(/g, 'Math.max(').replace(/\b[A-Z][A-Z0-9]*\b/g, (n) => {
      if (!(n in env)) throw new Error(`unknown constant ${n} in ${expr}`);
      return String(env[n]);
    });
    return Function(`return (${js});`)() as number;
  };
  for (const m of code.matchAll(/^const (\w+): u32 = ([^;]+);/gm)) env[m[1]] = evaluate(m[2]);
  for (const m of code.matchAll(/^alias (\w+) = (\w+);/gm)) aliases[m[1]] = m[2];
  let bytes = 0;
  for (const m of code.matchAll(/^var<workgroup> \w+: array<(\w+), ([^>]+)>;/gm)) {
    const type = aliases[m[1]] ?? m[1];
    bytes += TYPE_BYTES[type] * evaluate(m[2]);
  }
  return bytes;
}

describe('tiled attention kernels', () => {
  for (const family of ['narrow', 'wide'] as const) {
    for (const kind of ['fwd', 'dq', 'dkv'] as const) {
      it(`${family} ${kind}: the declared workgroup memory is what the kernel choice budgets`, () => {
        let checked = 0;
        for (const [d, dv] of [[8, 8], [40, 40], [64, 64], [12, 20], [160, 160]]) {
          for (const block of [[1, 1], [2, 2], [4, 2], [2, 4], [4, 4]] as Array<[number, number]>) {
            if (family === 'wide' && block.includes(1)) continue;
            const c = attentionKernelConfig(kind, d, dv, 65536, [family], { family, blocks: { [kind]: block } });
            if (!c || c.RM !== block[0] || c.RN !== block[1]) continue;
            const code = attentionTiledShader({ family, kind, RM: c.RM, RN: c.RN, DA: 8 * Math.ceil(d / 8), DVA: 8 * Math.ceil(dv / 8) });
            expect(workgroupBytes(code), `${family} ${kind} D ${d}/${dv} block ${block}`).toBe(c.smemBytes);
            checked++;
          }
        }
        expect(checked).toBeGreaterThan(3);
      });
    }
  }
});
