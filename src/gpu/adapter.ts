import { env } from './env.js';
import { NoAdapterError } from './errors.js';

export interface GpuOptions {
  /** Dawn backend in Node: 'vulkan', 'opengles', 'metal', 'd3d12', 'null'. Env: CFLENS_BACKEND. */
  backend?: string;
  /** 'core' or 'compatibility' (needed by GLES). Env: CFLENS_FEATURE_LEVEL. */
  featureLevel?: 'core' | 'compatibility';
  powerPreference?: GPUPowerPreference;
  /** Use the browser's navigator.gpu when present (default true). */
  preferNavigator?: boolean;
  /** Disable f16 even where the adapter has it. Env: CFLENS_NO_F16=1. */
  disableF16?: boolean;
}

export interface FoundAdapter {
  adapter: GPUAdapter;
  gpu: GPU;
  source: 'navigator.gpu' | 'dawn-node';
  backend: string;
  featureLevel: 'core' | 'compatibility';
}

async function nodeGpu(backend: string | undefined): Promise<GPU> {
  // The platform seam: '#dawn' is src/gpu/node/dawn.ts in Node, a stub elsewhere (package.json "imports").
  const { createNodeGpu } = await import('#dawn');
  return createNodeGpu(backend);
}

/** Finds an adapter: navigator.gpu in browsers; Dawn in Node, trying Vulkan then GLES compatibility. */
export async function findAdapter(opts: GpuOptions = {}): Promise<FoundAdapter> {
  const tried: string[] = [];
  const featureLevel = opts.featureLevel ?? (env('CFLENS_FEATURE_LEVEL') as 'core' | 'compatibility' | undefined);
  const powerPreference = opts.powerPreference ?? (env('CFLENS_POWER') as GPUPowerPreference | undefined);
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu && opts.preferNavigator !== false) {
    const adapter = await nav.gpu.requestAdapter({ powerPreference, featureLevel } as GPURequestAdapterOptions);
    if (adapter) return { adapter, gpu: nav.gpu, source: 'navigator.gpu', backend: 'browser', featureLevel: featureLevel ?? 'core' };
    tried.push('navigator.gpu.requestAdapter() returned null');
  }
  const inNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
  if (!inNode) throw new NoAdapterError([...tried, 'navigator.gpu is missing: this browser has no WebGPU (try a recent Chrome or Edge, or enable WebGPU)']);
  const requested = opts.backend ?? env('CFLENS_BACKEND');
  const attempts: Array<{ backend: string | undefined; level: 'core' | 'compatibility' }> = requested
    ? [{ backend: requested, level: featureLevel ?? (requested.startsWith('opengl') ? 'compatibility' : 'core') }]
    : [
        { backend: undefined, level: featureLevel ?? 'core' },
        { backend: 'opengles', level: 'compatibility' },
      ];
  for (const a of attempts) {
    let gpu: GPU;
    try {
      gpu = await nodeGpu(a.backend);
    } catch (e) {
      tried.push(`Dawn (webgpu package) could not load: ${(e as Error).message}`);
      break;
    }
    const adapter = await gpu.requestAdapter({ powerPreference, featureLevel: a.level } as GPURequestAdapterOptions);
    const label = `Dawn backend=${a.backend ?? 'default'} featureLevel=${a.level}`;
    if (adapter) return { adapter, gpu, source: 'dawn-node', backend: a.backend ?? 'default', featureLevel: a.level };
    tried.push(`${label}: no adapter`);
  }
  throw new NoAdapterError(tried);
}

const LIMIT_NAMES = [
  'maxBufferSize', 'maxStorageBufferBindingSize', 'maxUniformBufferBindingSize', 'maxStorageBuffersPerShaderStage',
  'maxUniformBuffersPerShaderStage', 'maxBindGroups', 'maxBindingsPerBindGroup', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension', 'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment',
] as const;

export const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

/** The adapter's own limits (not the spec defaults), for requestDevice. */
export function adapterLimits(adapter: GPUAdapter): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of LIMIT_NAMES) {
    const v = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof v === 'number') out[name] = v;
  }
  return out;
}
