import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { doctor, formatDoctor } from '../../src/cli/doctor.js';
import { shaderCacheInfo } from '../../src/cli/shader-cache.js';
import type { AdapterSummary } from '../../src/gpu/index.js';

const adapter = (description: string, vendor = ''): AdapterSummary => ({
  source: 'dawn-node', backend: 'default', featureLevel: 'core', vendor, architecture: '', device: '', description, isCpu: true, features: [], limits: {},
});
const lavapipe = adapter('llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)', 'mesa');

describe('cflens doctor: the shader cache', () => {
  it('finds Mesa\'s cache where MESA_SHADER_CACHE_DIR puts it, with its size', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cflens-cache-'));
    const empty = shaderCacheInfo(lavapipe, { MESA_SHADER_CACHE_DIR: dir });
    expect(empty).toMatchObject({ driver: 'mesa', active: true, path: join(dir, 'mesa_shader_cache_db'), exists: false, bytes: 0 });
    mkdirSync(join(dir, 'mesa_shader_cache_db'));
    writeFileSync(join(dir, 'mesa_shader_cache_db', 'part'), new Uint8Array(3000));
    expect(shaderCacheInfo(lavapipe, { MESA_SHADER_CACHE_DIR: dir })).toMatchObject({ exists: true, bytes: 3000 });
    expect(shaderCacheInfo(lavapipe, { XDG_CACHE_HOME: dir }).path).toBe(join(dir, 'mesa_shader_cache_db'));
    expect(shaderCacheInfo(lavapipe, { MESA_SHADER_CACHE_DIR: dir, MESA_DISK_CACHE_MULTI_FILE: '1' }).path).toBe(join(dir, 'mesa_shader_cache'));
  });

  it('says when the cache is disabled, and when the driver is one it cannot see', () => {
    const off = shaderCacheInfo(lavapipe, { MESA_SHADER_CACHE_DISABLE: 'true' });
    expect(off.active).toBe(false);
    expect(off.note).toMatch(/disabled/);
    expect(shaderCacheInfo(adapter('SwiftShader Device (Subzero)', 'google'))).toMatchObject({ driver: 'unknown', path: null, active: false });
  });

  it('the CLI passes the driver\'s messages through but not Dawn\'s two notes about the limits it lowers for itself', () => {
    const r = spawnSync(process.execPath, [new URL('../../bin/cflens.mjs', import.meta.url).pathname, 'doctor'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/status\s+OK/);
    expect(r.stderr).not.toMatch(/artificially reduced/);
  });

  it('doctor reports the adapter, the cache and a computation that matches the CPU', async () => {
    const r = await doctor();
    expect(r.ok).toBe(true);
    expect(r.shaderCache).toBeDefined();
    expect(formatDoctor(r)).toMatch(/shader cache /);
  });
});
