// Node's side of the '#dawn' seam (package.json "imports"): WebGPU through Dawn's `webgpu` package,
// loaded lazily by src/gpu/adapter.ts so that nothing loads it before an adapter is asked for.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';

let globalsInstalled = false;

export function createNodeGpu(backend: string | undefined): GPU {
  if (!globalsInstalled) {
    // GPUBufferUsage, GPUMapMode, ... as in a browser.
    for (const [k, v] of Object.entries(globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    globalsInstalled = true;
  }
  if (!process.env.XDG_RUNTIME_DIR) {
    // Mesa's drivers want a runtime directory; headless CI machines often have none.
    const dir = join(tmpdir(), `cflens-xdg-${process.getuid?.() ?? 0}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  if (backend === 'opengles' || backend === 'opengl') process.env.EGL_PLATFORM ??= 'surfaceless';
  const flags = backend ? [`backend=${backend}`] : [];
  return create(flags) as unknown as GPU;
}
