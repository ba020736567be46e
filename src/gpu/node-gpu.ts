// Node-only adapter: WebGPU through Dawn's `webgpu` package. Loaded lazily so browsers never see it.
import { create, globals } from 'webgpu';

let globalsInstalled = false;

export function createNodeGpu(backend: string | undefined): GPU {
  if (!globalsInstalled) {
    // GPUBufferUsage, GPUMapMode, ... as in a browser.
    for (const [k, v] of Object.entries(globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    globalsInstalled = true;
  }
  if (backend === 'opengles' || backend === 'opengl') process.env.EGL_PLATFORM ??= 'surfaceless';
  const flags = backend ? [`backend=${backend}`] : [];
  return create(flags) as unknown as GPU;
}
