// Writes a preview grid of the toy-face world as a PNG (Node only).
//   npx tsx src/world/node/preview.ts [out.png] [--seed N]
// Rows: random faces at 64×64, random faces at 32×32, then counterfactual rows at 32×32 (one
// attribute changed per column from the first face), then masks of the 64×64 row.
import { writeFileAtomic } from '../../io/node/atomic-write.js';
import { ATTRIBUTES, sampleAttributes, withAttributes, type Attributes } from '../attributes.js';
import { encodePng, tileImages } from '../../io/png.js';
import { render, MASK_CLASSES } from '../render.js';
import { Rng } from '../rng.js';

const MASK_RGB: readonly (readonly [number, number, number])[] = [
  [0.1, 0.1, 0.1], [0.95, 0.75, 0.6], [0.55, 0.3, 0.1], [0.2, 0.4, 1], [1, 1, 1], [1, 0.1, 0.2], [0.4, 0.8, 0.4],
];

function maskImage(mask: Uint8Array, size: number, kps?: Float32Array): Float32Array {
  const hw = size * size;
  const out = new Float32Array(3 * hw);
  for (let i = 0; i < hw; i++) for (let c = 0; c < 3; c++) out[c * hw + i] = MASK_RGB[mask[i]][c];
  if (kps) {
    for (let k = 0; k < kps.length; k += 2) {
      const x = Math.floor(kps[k]);
      const y = Math.floor(kps[k + 1]);
      if (x >= 0 && y >= 0 && x < size && y < size) {
        out[y * size + x] = 0;
        out[hw + y * size + x] = 1;
        out[2 * hw + y * size + x] = 0;
      }
    }
  }
  return out;
}

function stack(canvases: { rgb: Uint8Array; width: number; height: number }[]): { rgb: Uint8Array; width: number; height: number } {
  const width = Math.max(...canvases.map((c) => c.width));
  const height = canvases.reduce((n, c) => n + c.height, 0);
  const rgb = new Uint8Array(width * height * 3).fill(255);
  let y0 = 0;
  for (const c of canvases) {
    for (let y = 0; y < c.height; y++) rgb.set(c.rgb.subarray(y * c.width * 3, (y + 1) * c.width * 3), ((y0 + y) * width) * 3);
    y0 += c.height;
  }
  return { rgb, width, height };
}

const args = process.argv.slice(2);
const out = args.find((a) => !a.startsWith('--')) ?? '/tmp/world-grid.png';
const seedArg = args.indexOf('--seed');
const seed = seedArg >= 0 ? Number(args[seedArg + 1]) : 1;
const cols = 8;
const rng = new Rng(seed);
const attrs: Attributes[] = Array.from({ length: 16 }, () => sampleAttributes(rng));

const big = attrs.map((a, i) => render(a, { size: 64, seed: i }));
const small = attrs.map((a, i) => render(a, { size: 32, seed: 100 + i }));
console.log(attrs.slice(0, 16).map((a, i) => `${i}: ${big[i].caption}`).join('\n'));

// counterfactuals: base face, then flip each discrete attribute / push each continuous one
const base = withAttributes(attrs[0], { smiling: false, glasses: false, hat: false, beard: false, earrings: false, brightness: 0, light_direction: 0 });
const cf: Float32Array[] = [render(base, { size: 32, jitter: false }).image];
const cfNames: string[] = ['base'];
for (const spec of ATTRIBUTES) {
  let change: Partial<Attributes>;
  if (spec.kind === 'binary') change = { [spec.name]: true };
  else if (spec.kind === 'categorical') change = { [spec.name]: spec.values[(spec.values.indexOf(base[spec.name] as string) + 1) % spec.values.length] };
  else change = { [spec.name]: 1 };
  cf.push(render(withAttributes(base, change), { size: 32, jitter: false }).image);
  cfNames.push(`${spec.name}=${String(Object.values(change)[0])}`);
}
console.log(`counterfactual row: ${cfNames.join(' | ')}`);
console.log(`mask colours: ${MASK_CLASSES.join(', ')}`);

const grid = stack([
  tileImages(big.map((r) => r.image), 64, { cols, scale: 2 }),
  tileImages(small.map((r) => r.image), 32, { cols, scale: 4 }),
  tileImages(cf, 32, { cols, scale: 4 }),
  tileImages(big.slice(0, 8).map((r) => maskImage(r.mask, 64, r.keypoints)), 64, { cols, scale: 2 }),
]);
await writeFileAtomic(out, encodePng(grid.rgb, grid.width, grid.height));
console.log(`wrote ${out} (${grid.width}×${grid.height})`);
