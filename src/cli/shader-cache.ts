// Where the driver keeps compiled kernels between runs, for `cflens doctor`: a cold cache is what makes
// a first run slow (software adapters compile every kernel on its first use).
import { existsSync, readdirSync, statSync, accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { AdapterSummary } from '../gpu/context.js';

export interface ShaderCacheInfo {
  /** 'mesa' (lavapipe/llvmpipe and Mesa's GPU drivers), 'nvidia', or 'unknown'. */
  driver: 'mesa' | 'nvidia' | 'unknown';
  active: boolean;
  path: string | null;
  exists: boolean;
  bytes: number;
  writable: boolean;
  note: string;
}

function sizeOf(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((s, f) => s + sizeOf(join(path, f)), 0);
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes)$/i.test(v);

/** The persistent shader cache the adapter's driver uses, from the variables the driver reads. */
export function shaderCacheInfo(a: AdapterSummary, env: NodeJS.ProcessEnv = process.env): ShaderCacheInfo {
  const text = `${a.vendor} ${a.architecture} ${a.device} ${a.description}`.toLowerCase();
  if (/mesa|llvmpipe|lavapipe|radv|anv|nvk|turnip/.test(text)) {
    const base = env.MESA_SHADER_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'));
    // Mesa ≥ 23 keeps one database file set (mesa_shader_cache_db) unless MESA_DISK_CACHE_MULTI_FILE is set.
    const name = truthy(env.MESA_DISK_CACHE_MULTI_FILE) ? 'mesa_shader_cache' : 'mesa_shader_cache_db';
    const path = join(base, name);
    const disabled = truthy(env.MESA_SHADER_CACHE_DISABLE) || truthy(env.MESA_GLSL_CACHE_DISABLE);
    const exists = existsSync(path);
    const ok = exists ? writable(path) : existsSync(base) ? writable(base) : true;
    const active = !disabled && ok;
    const note = disabled
      ? 'disabled (MESA_SHADER_CACHE_DISABLE): every run compiles every kernel again'
      : !ok
        ? `not writable: kernels compiled now are lost at exit (set MESA_SHADER_CACHE_DIR to a writable folder)`
        : `${env.MESA_SHADER_CACHE_DIR ? 'MESA_SHADER_CACHE_DIR' : 'default location'}; ` +
          `limit ${env.MESA_SHADER_CACHE_MAX_SIZE ?? '1G'} (MESA_SHADER_CACHE_MAX_SIZE)`;
    return { driver: 'mesa', active, path, exists, bytes: exists ? sizeOf(path) : 0, writable: ok, note };
  }
  if (/nvidia/.test(text)) {
    const path = env.__GL_SHADER_DISK_CACHE_PATH || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'nvidia', 'GLCache');
    const exists = existsSync(path);
    const disabled = env.__GL_SHADER_DISK_CACHE === '0';
    return {
      driver: 'nvidia', active: !disabled, path, exists, bytes: exists ? sizeOf(path) : 0, writable: exists ? writable(path) : true,
      note: disabled ? 'disabled (__GL_SHADER_DISK_CACHE=0)' : 'NVIDIA driver cache (__GL_SHADER_DISK_CACHE_PATH)',
    };
  }
  return {
    driver: 'unknown', active: false, path: null, exists: false, bytes: 0, writable: false,
    note: 'managed by the driver or browser; cflens cannot see it',
  };
}

export function formatShaderCache(c: ShaderCacheInfo): string {
  if (!c.path) return c.note;
  const size = c.exists ? `${(c.bytes / 2 ** 20).toFixed(1)} MiB` : 'empty (not created yet: the next run compiles every kernel)';
  return `${c.active ? 'active' : 'INACTIVE'}, ${c.path} (${size}); ${c.note}`;
}
