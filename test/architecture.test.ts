// The house rules of docs/architecture.md that a machine can check: imports run downward through the
// layers, the leaf rooms stay leaves, and no module imports itself through a cycle.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = new URL('../src/', import.meta.url).pathname;

/** Each room's height: a module may import rooms at its height or below. */
const RANK: Record<string, number> = {
  gpu: 0, autograd: 1, ops: 2, nn: 3, models: 4, schedulers: 5, pipelines: 6, diagnosis: 7, train: 7, report: 8, cli: 9, 'index.ts': 10,
};
/** Rooms any layer may use (io), or the layers from pipelines up (world). */
const LEAVES: Record<string, number> = { io: 0, world: 6 };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.gen.ts') ? [p] : [];
  });
}

const room = (file: string) => relative(src, file).split('/')[0];

/** Relative imports of a module: value imports (a cycle only matters at run time) and all of them. */
function importsOf(file: string): { all: string[]; values: string[] } {
  const text = readFileSync(file, 'utf8');
  const all: string[] = [];
  const values: string[] = [];
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'(\.[^']+)'/gm)) {
    const target = resolve(dirname(file), m[3]).replace(/\.js$/, '.ts');
    all.push(target);
    if (!m[2]) values.push(target);
  }
  for (const m of text.matchAll(/import\('(\.[^']+)'\)/g)) all.push(resolve(dirname(file), m[1]).replace(/\.js$/, '.ts'));
  return { all, values };
}

const modules = files(src);
const graph = new Map(modules.map((f) => [f, importsOf(f)]));

describe('the house', () => {
  it('imports run downward through the layers; io and world stay leaves; ops never import the reference', () => {
    const bad: string[] = [];
    for (const [file, { all }] of graph) {
      const from = room(file);
      for (const target of all) {
        const to = room(target);
        if (to === from) continue;
        const name = `${relative(src, file)} → ${relative(src, target)}`;
        if (from === 'io' || from === 'reference') bad.push(`${name} (${from} imports nothing outside itself)`);
        else if (from === 'world' && to !== 'io') bad.push(`${name} (world imports only io)`);
        else if (to === 'reference') bad.push(`${name} (the reference is the tests' oracle)`);
        else if (to in LEAVES) {
          if ((RANK[from] ?? 0) < LEAVES[to]) bad.push(`${name} (${to} is for the layers from pipelines up)`);
        } else if (!(to in RANK) || !(from in RANK) || RANK[to] > RANK[from]) bad.push(`${name} (upward: ${from} ${RANK[from]} → ${to} ${RANK[to]})`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('no import cycles among modules', () => {
    let next = 0;
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    const visit = (v: string) => {
      index.set(v, next);
      low.set(v, next++);
      stack.push(v);
      onStack.add(v);
      for (const w of graph.get(v)?.values ?? []) {
        if (!graph.has(w)) continue;
        if (!index.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
      if (low.get(v) === index.get(v)) {
        const c: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          c.push(relative(src, w));
        } while (w !== v);
        if (c.length > 1) cycles.push(c);
      }
    };
    for (const v of graph.keys()) if (!index.has(v)) visit(v);
    expect(cycles).toEqual([]);
  });

  it('Node-only modules (node:*, the Dawn addon, pngjs) are imported only from node/ folders and the CLI', () => {
    const bad: string[] = [];
    for (const file of modules) {
      const rel = relative(src, file);
      if (rel.startsWith('cli/') || rel.split('/').includes('node')) continue;
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(node:[^']+|webgpu|pngjs)'/gm)) bad.push(`${rel} → ${m[1]}`);
      for (const m of text.matchAll(/import\('(node:[^']+|webgpu|pngjs)'\)/g)) bad.push(`${rel} → ${m[1]}`);
    }
    expect(bad).toEqual([]);
  });

  it('every WGSL `// #params Name (file)` names the module that declares Name, and every kernel op file launches through kernels/', () => {
    const declared = new Map<string, string>();
    for (const file of modules) {
      for (const m of readFileSync(file, 'utf8').matchAll(/defineParams\('(\w+)'/g)) declared.set(m[1], relative(join(src, '..'), file));
    }
    const shaders = new URL('../shaders/', import.meta.url).pathname;
    const wgsl = readdirSync(shaders).map((n) => join(shaders, n)).flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).map((n) => join(p, n)) : [p]));
    const bad: string[] = [];
    for (const file of wgsl) {
      for (const m of readFileSync(file, 'utf8').matchAll(/#params (\w+) \((src\/[\w/.-]+)\)/g)) {
        if (declared.get(m[1]) !== m[2]) bad.push(`${relative(shaders, file)}: ${m[1]} is declared in ${declared.get(m[1]) ?? 'no module'}, not ${m[2]}`);
      }
    }
    // Ops keep the API, checks and vjps; kernel parameters and launches live in src/ops/kernels/.
    for (const file of modules.filter((f) => dirname(f) === join(src, 'ops'))) {
      if (/defineParams\(/.test(readFileSync(file, 'utf8'))) bad.push(`${relative(src, file)} declares kernel parameters`);
    }
    expect(bad).toEqual([]);
  });
});
