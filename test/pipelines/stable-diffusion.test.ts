import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StableDiffusionPipeline } from '../../src/pipelines/stable-diffusion.js';
import { ddimSample } from '../../src/pipelines/sampling.js';
import { DDIMScheduler } from '../../src/schedulers/ddim.js';
import { CLIPTextModel } from '../../src/models/clip/clip-text-model.js';
import { memoryDir } from '../../src/models/weights-dir.js';
import { backward, mul, noGrad, randn, sum, tidy, type Tensor } from '../../src/index.js';
import { modelFixture, upload } from '../helpers/fixtures.js';
import { fixturePipelineFiles, MODEL_INDEX, TOKENIZER_DIR } from '../helpers/sd-fixture.js';
import { assertClose, setupGpu } from '../helpers/gpu.js';

const tokDir = TOKENIZER_DIR;
const unetFx = modelFixture('unet_cond_A');
const vaeFx = modelFixture('vae_A');
const clipFx = modelFixture('clip_A');
const ddimFx = modelFixture('ddim_A');
const EOT = 49407;
const SCHEDULER = { _class_name: 'PNDMScheduler', ...ddimFx.config.scheduler, skip_prk_steps: true };

let files: Record<string, Uint8Array | string>;
let pipe: StableDiffusionPipeline;
const scratch = mkdtempSync(join(tmpdir(), 'cflens-sd-'));

beforeAll(async () => {
  await setupGpu();
  files = await fixturePipelineFiles();
  pipe = await StableDiffusionPipeline.fromPretrained(memoryDir('sd', files));
});

afterAll(() => {
  pipe?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

const without = (prefix: string) => Object.fromEntries(Object.entries(files).filter(([k]) => !k.startsWith(prefix)));
const withJson = (file: string, json: unknown) => ({ ...files, [file]: JSON.stringify(json) });
const meanAbs = async (t: Tensor) => {
  const a = Array.from(await t.toArray());
  expect(a.every(Number.isFinite)).toBe(true);
  return a.reduce((s, v) => s + Math.abs(v), 0) / a.length;
};

describe('StableDiffusionPipeline.fromPretrained', () => {
  it('wires the components of a memoryDir folder; the PNDM scheduler config becomes a DDIM config', () => {
    expect(pipe.vaeScaleFactor).toBe(2);
    expect(pipe.tokenizer.contextLength).toBe(77);
    expect(pipe.tokenizer.padId).toBe(EOT);
    expect(pipe.schedulerConfig).toEqual(ddimFx.config.scheduler);
    expect(pipe.newScheduler().setTimesteps(10)).toEqual(Array.from(ddimFx.get('timesteps').data));
  });

  it('loads a folder on disk by its path (subfolders linked to the fixtures)', async () => {
    const root = join(scratch, 'sd');
    mkdirSync(root);
    symlinkSync(unetFx.dir, join(root, 'unet'));
    symlinkSync(vaeFx.dir, join(root, 'vae'));
    symlinkSync(tokDir, join(root, 'tokenizer'));
    for (const [name, data] of Object.entries(files)) {
      if (!/^(model_index|text_encoder|scheduler)/.test(name)) continue;
      mkdirSync(join(root, name, '..'), { recursive: true });
      writeFileSync(join(root, name), data);
    }
    const disk = await StableDiffusionPipeline.fromPretrained(`${root}/`);
    expect(disk.tokenizer.padId).toBe(EOT);
    expect(disk.textEncoder.config.hidden_size).toBe(32);
    disk.dispose();
  });

  it('says which file or entry is wrong and what to do', async () => {
    const load = (f: Record<string, Uint8Array | string>) => StableDiffusionPipeline.fromPretrained(memoryDir('sd', f));
    await expect(load(without('model_index.json'))).rejects.toThrow(
      /^cflens: StableDiffusionPipeline sd: cannot read sd\/model_index\.json: .*A diffusers pipeline folder has model_index\.json beside unet\//,
    );
    await expect(StableDiffusionPipeline.fromPretrained(join(scratch, 'nowhere'))).rejects.toThrow(/nowhere\/model_index\.json: it does not exist/);
    await expect(load(without('vae/'))).rejects.toThrow(/cannot load vae\/ \(diffusers AutoencoderKL, listed in model_index\.json\): cannot read sd\/vae\/config\.json/);
    await expect(load(without('tokenizer/merges.txt'))).rejects.toThrow(/cannot load tokenizer\/ .*sd\/tokenizer has no merges\.txt/);
    await expect(load(withJson('model_index.json', { ...MODEL_INDEX, _class_name: 'StableDiffusionXLPipeline' }))).rejects.toThrow(
      /_class_name is "StableDiffusionXLPipeline"; this loads 'StableDiffusionPipeline' folders/,
    );
    await expect(load(withJson('model_index.json', { ...MODEL_INDEX, text_encoder: ['transformers', 'CLIPTextModelWithProjection'] }))).rejects.toThrow(
      /text_encoder is \["transformers","CLIPTextModelWithProjection"\]; StableDiffusionPipeline needs \["transformers", "CLIPTextModel"\]/,
    );
    await expect(load(withJson('scheduler/scheduler_config.json', { ...SCHEDULER, _class_name: 'DDIMScheduler' }))).rejects.toThrow(
      /cannot load scheduler\/.*unknown config key 'skip_prk_steps'/,
    );
    const narrow = new CLIPTextModel({ ...pipe.textEncoder.config, hidden_size: 16, vocab_size: 8 });
    expect(() => new StableDiffusionPipeline({ unet: pipe.unet, vae: pipe.vae, textEncoder: narrow, tokenizer: pipe.tokenizer.tokenizer })).toThrow(
      /^cflens: StableDiffusionPipeline: the UNet attends to 32-wide text states \(unet cross_attention_dim\) but the text encoder makes 16/,
    );
    narrow.dispose();
  });
});

describe('StableDiffusionPipeline components', () => {
  it('tokenizes and encodes prompts as diffusers does: padded with <|endoftext|>, the text tower through EOT as transformers', async () => {
    const prompts = clipFx.meta.prompts as string[];
    const ids = pipe.tokenize(prompts);
    const ref = clipFx.get('input_ids');
    const hidden = await pipe.encodePrompt(prompts).toArray();
    const refHidden = clipFx.get('text_last_hidden').data;
    const d = 32;
    ids.forEach((row, i) => {
      const eot = row.indexOf(EOT);
      expect(row.slice(0, eot + 1)).toEqual(Array.from(ref.data.slice(i * 77, i * 77 + eot + 1)));
      expect(row.slice(eot).every((v) => v === EOT)).toBe(true);
      // Causal attention: positions up to EOT do not see the padding, whichever token it is.
      const at = i * 77 * d;
      assertClose(hidden.slice(at, at + (eot + 1) * d), refHidden.slice(at, at + (eot + 1) * d), clipFx.tol, `prompt ${i}`);
    });
  });

  it("encodeImage is the VAE posterior mean × scaling_factor and decodeLatents undoes it (vae_A's reference)", async () => {
    const sf = 0.18215;
    const latents = noGrad(() => pipe.encodeImage(upload(vaeFx.get('x'))));
    assertClose(await latents.toArray(), vaeFx.get('encode_mean').data.map((v) => v * sf), vaeFx.tol, 'latents');
    const decoded = noGrad(() => pipe.decodeLatents(mul(upload(vaeFx.get('z')), sf)));
    assertClose(await decoded.toArray(), vaeFx.get('decoded').data, vaeFx.tol, 'decoded');
    expect(() => pipe.encodeImage(randn([1, 3, 15, 16]))).toThrow(/pixels of shape \[1,3,15,16\]; the VAE takes \[B, 3, H, W\] with H and W multiples of 2/);
  });
});

describe('StableDiffusionPipeline loops', () => {
  it("guided sampling from given conditionings matches diffusers' first 3 of 10 DDIM steps (ddim_A)", async () => {
    const { latents, timesteps } = noGrad(() => pipe.sample({
      latents: upload(ddimFx.get('zT')), cond: upload(ddimFx.get('cond')), uncond: upload(ddimFx.get('uncond')), steps: 10, stopAfter: 3, guidanceScale: 7.5,
    }));
    expect(timesteps).toEqual(Array.from(ddimFx.get('timesteps').data.slice(0, 3)));
    assertClose(await latents.toArray(), ddimFx.get('z3').data, ddimFx.tol, 'z3');
  });

  it('sampling from prompts and a seed is ddimSample on the encoded prompts, "" and randn(seed)', async () => {
    const prompt = ['a photo of a cat'];
    const ours = noGrad(() => pipe.sample({ prompt, steps: 2, guidanceScale: 3, seed: 5 }).latents);
    const manual = noGrad(() => ddimSample({
      unet: pipe.unet, scheduler: new DDIMScheduler(ddimFx.config.scheduler), zT: randn([1, 4, 16, 16], { seed: 5 }),
      cond: pipe.encodePrompt(prompt), uncond: pipe.encodePrompt(['']), guidanceScale: 3, steps: 2,
    }).latents);
    assertClose(await ours.toArray(), await manual.toArray(), { atol: 0, rtol: 0 }, 'latents');
  });

  it('a gradient flows from the decoded image to x_T and to the prompt embedding', async () => {
    const zT = randn([1, 4, 16, 16], { seed: 7 }).requiresGrad_();
    const cond = noGrad(() => pipe.encodePrompt('a face with glasses')).requiresGrad_();
    const image = pipe.decodeLatents(pipe.sample({ latents: zT, cond, negativePrompt: 'blurry', steps: 2, guidanceScale: 3 }).latents);
    expect(image.shape).toEqual([1, 3, 32, 32]);
    tidy(() => backward(sum(mul(image, randn(image.shape, { seed: 8 })))));
    expect(await meanAbs(zT.grad!)).toBeGreaterThan(0);
    expect(await meanAbs(cond.grad!)).toBeGreaterThan(0);
  });

  it("inversion matches diffusers' DDIM inversion (ddim_A), and null-text inversion runs through the pipeline", async () => {
    const traj = noGrad(() => pipe.invert({ latents: upload(ddimFx.get('inv_x0')), cond: upload(ddimFx.get('cond')), steps: 10, stopAfter: 3 }));
    for (const [i, name] of ['inv1', 'inv2', 'inv3'].entries()) assertClose(await traj[i + 1].toArray(), ddimFx.get(name).data, ddimFx.tol, name);
    const res = await pipe.nullTextInversion({ latents: randn([1, 4, 8, 8], { seed: 9 }), prompt: 'a cat', steps: 2, innerSteps: 2, guidanceScale: 3 });
    expect(res.trajectory.length).toBe(3);
    expect(res.nullEmbeddings.map((t) => t.shape)).toEqual([[1, 77, 32], [1, 77, 32]]);
    expect(res.losses.every(Number.isFinite)).toBe(true);
    expect(() => pipe.invert({ steps: 2 })).toThrow(/invert: give either image or latents/);
  });
});
