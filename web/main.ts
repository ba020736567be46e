// Demo page: initialises the GPU through the library and shows what it found.
import { initGpu, randn, tidy, type GpuContext } from '../src/index.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function row(table: HTMLTableElement, key: string, value: string, numeric = false): void {
  const tr = table.insertRow();
  const th = document.createElement('th');
  th.textContent = key;
  tr.appendChild(th);
  const td = tr.insertCell();
  td.textContent = value;
  if (numeric) td.className = 'num';
}

function showAdapter(ctx: GpuContext): void {
  const s = ctx.summary;
  const t = $<HTMLTableElement>('adapter');
  row(t, 'source', s.source);
  row(t, 'vendor', s.vendor || '—');
  row(t, 'architecture', s.architecture || '—');
  row(t, 'device', s.device || '—');
  row(t, 'description', s.description || '—');
  row(t, 'CPU (software) adapter', s.isCpu ? 'yes' : 'no');
  row(t, 'feature level', s.featureLevel);
  row(t, 'features', s.features.join(', ') || '—');
  const l = $<HTMLTableElement>('limits');
  for (const [k, v] of Object.entries(s.limits)) row(l, k, v.toLocaleString('en-US'), true);
}

let seed = 1;

/** Draws a [3, 64, 64] standard-normal sample, mapped to [0, 255], on the canvas. */
async function drawNoise(): Promise<void> {
  const canvas = $<HTMLCanvasElement>('noise');
  const { width: w, height: h } = canvas;
  const t0 = performance.now();
  // x * 0.25 + 0.5, clamped: ±2σ spans the full range.
  const img = tidy(() => randn([3, h, w], { seed }).mul(0.25).add(0.5).clamp(0, 1));
  const data = (await img.toArray()) as Float32Array;
  img.dispose();
  const ms = performance.now() - t0;
  const pixels = new ImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) pixels.data[4 * i + c] = Math.round(255 * data[c * w * h + i]);
    pixels.data[4 * i + 3] = 255;
  }
  canvas.getContext('2d')!.putImageData(pixels, 0, 0);
  $('noise-info').textContent = `randn([3, ${h}, ${w}], seed ${seed}) on the GPU: ${ms.toFixed(1)} ms`;
}

async function main(): Promise<void> {
  const status = $('status');
  try {
    if (!('gpu' in navigator)) throw new Error('This browser has no WebGPU (navigator.gpu is missing).');
    const ctx = await initGpu();
    showAdapter(ctx);
    status.textContent = `WebGPU ready: ${[ctx.summary.vendor, ctx.summary.architecture, ctx.summary.description].filter(Boolean).join(' / ') || 'adapter'}`;
    status.className = 'ok';
    await drawNoise();
    const button = $<HTMLButtonElement>('resample');
    button.disabled = false;
    button.onclick = async () => {
      seed++;
      await drawNoise();
    };
    (window as unknown as { __cflensReady?: boolean }).__cflensReady = true;
  } catch (e) {
    status.textContent = `WebGPU could not start: ${(e as Error).message}`;
    status.className = 'err';
    console.error(e);
    (window as unknown as { __cflensReady?: boolean }).__cflensReady = true;
  }
}

void main();
