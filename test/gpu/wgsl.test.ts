import { describe, expect, it } from 'vitest';
import { defineParams, generated, generatedCode, include, kernelName, shader, shaderSource, withParams } from '../../src/gpu/wgsl.js';
import { shaderIncludes, shaderSources } from '../../src/gpu/shaders.gen.js';
import { FILL_PARAMS } from '../../src/ops/kernels/fill.js';

describe('KernelParams', () => {
  const P = defineParams('TestParams', { n: 'u32', off: 'i32', scale: 'f32', flag: 'u32', dims: ['u32', 3] });

  it('emits one WGSL struct field per declared field, in order', () => {
    expect(P.wgsl).toContain('struct Params {\n  n: u32,\n  off: i32,\n  scale: f32,\n  flag: u32,\n  dims: array<u32, 3>,\n}');
    expect(P.words).toBe(7);
  });

  it('packs u32, i32 (two’s complement), f32 bits, booleans and padded arrays', () => {
    const w = P.pack({ n: 7, off: -2, scale: 0.5, flag: true, dims: [4, 5] });
    const f = new Float32Array(new Uint32Array([w[2]]).buffer)[0];
    expect([...w]).toEqual([7, 0xfffffffe, w[2], 1, 4, 5, 0]);
    expect(f).toBe(0.5);
  });

  it('names the struct and field of a bad value', () => {
    expect(() => P.pack({ n: -1, off: 0, scale: 0, flag: 0, dims: [] })).toThrow(/TestParams\.n \(u32\) out of range/);
    expect(() => P.pack({ n: 1.5, off: 0, scale: 0, flag: 0, dims: [] })).toThrow(/TestParams\.n \(u32\) must be an integer/);
    expect(() => P.pack({ n: 1, off: 0, scale: 0, flag: 0, dims: [1, 2, 3, 4] })).toThrow(/TestParams\.dims holds 3 values, got 4/);
    expect(() => P.pack({ n: 1, off: 0, scale: 0, flag: 0 } as never)).toThrow(/TestParams\.dims has no value/);
  });

  it('a runtime-sized last array takes any length (at least one word bound) and must be last', () => {
    const T = defineParams('Tail', { n: 'u32', rank: 'u32', dims: ['u32', '*'] });
    expect(T.wgsl).toContain('  dims: array<u32>,\n}');
    expect([...T.pack({ n: 9, rank: 3, dims: [1, 2, 3, 4, 5, 6] })]).toEqual([9, 3, 1, 2, 3, 4, 5, 6]);
    expect([...T.pack({ n: 9, rank: 0, dims: [] })]).toEqual([9, 0, 0, 0]);
    expect(() => defineParams('Bad', { dims: ['u32', '*'], n: 'u32' })).toThrow(/Bad\.dims: a runtime-sized array must be the last field/);
  });

  it('pads a one-word struct to the 16-byte minimum binding', () => {
    expect(defineParams('One', { n: 'u32' }).pack({ n: 3 }).length).toBe(4);
  });
});

describe('building WGSL', () => {
  it('puts the struct where the source says // #params, and refuses a mismatch either way', () => {
    const P = defineParams('X', { n: 'u32' });
    expect(withParams('t', 'a\n// #params X\nb', P)).toBe(`a\n${P.wgsl}\nb`);
    expect(() => withParams('t', 'a\n// #params X\nb')).toThrow(/declares \/\/ #params but was given no KernelParams/);
    expect(() => withParams('t', 'a\nb', P)).toThrow(/was given X but has no \/\/ #params line/);
  });

  it('expands every include of every bundled shader, and no #include line is left', () => {
    for (const name of Object.keys(shaderSources)) expect(shaderSource(name)).not.toMatch(/^\/\/ #include/m);
    for (const name of Object.keys(shaderIncludes)) expect(include(name)).not.toMatch(/^\/\/ #include/m);
    expect(() => include('no_such_include')).toThrow(/no shaders\/include\/no_such_include\.wgsl/);
  });

  it('returns the same string object for the same specialisation and names it for profiles', () => {
    const a = shader('fill', {}, FILL_PARAMS);
    expect(shader('fill', {}, FILL_PARAMS)).toBe(a);
    expect(a).toContain(FILL_PARAMS.wgsl);
    expect(kernelName(a)).toBe('fill');
    expect(kernelName(a, 'other')).toBe('fill:other');
    expect(() => shader('no_such_shader')).toThrow(/no shader named no_such_shader/);
  });

  it('builds a generated kernel once per key and names it with its label', () => {
    let builds = 0;
    const build = () => `// generated ${++builds}\n`;
    const a = generated('test_family', 'k1', 'test_kernel[k1]', build);
    expect(generated('test_family', 'k1', 'test_kernel[k1]', build)).toBe(a);
    expect(builds).toBe(1);
    expect(generatedCode('test_family', 'k1')).toBe(a);
    expect(generatedCode('test_family', 'k2')).toBeUndefined();
    expect(kernelName(a)).toBe('test_kernel[k1]');
  });
});
