// DiG-IN's spurious-vs-core test of a classifier's neurons (their Table 2, ΣCAM), where the world knows the
// regions: each channel of the last feature map is upsampled to the image (its activation map), and the
// share of its activation mass inside a "core" region (where the labelled attribute is drawn: the mouth for
// smiling) and inside a "spurious" region (where the planted shortcut is drawn: the hair) is measured over
// images, as is its contribution to the class decision (the head's weight difference for the class times
// the channel's mean activation). A shortcut shows as channels that drive the decision while their mass sits
// in the spurious region.
//   density(R) = share of the mass in R / share of the pixels in R (1: no preference; > 1: concentrated in R)
import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../autograd/scope.js';
import type { Tensor } from '../autograd/tensor.js';
import { interpolate } from '../ops/resample.js';

export interface NeuronRegionOptions {
  /** The last feature map of images: [N, C, h, w], non-negative (after ReLU). */
  features: (x: Tensor) => Tensor;
  /** The head's weight [classes, C] as host values (a global-average-pool → linear classifier). */
  headWeight: Float32Array;
  classes: number;
  /** The class whose decision the contributions are for. */
  cls: number;
  /** Images [N, 3, H, W] in the model's input range. */
  images: Tensor;
  /** Per region name, one mask (H·W, 1 inside) per image. */
  regions: Record<string, readonly Uint8Array[]>;
}

export interface NeuronRegionRow {
  channel: number;
  /** (w[cls, c] − mean of the other classes' w[·, c]) · mean activation: the channel's push towards cls. */
  contribution: number;
  /** Per region: share of the channel's activation mass inside it (pooled over images). */
  share: Record<string, number>;
  /** Per region: share / the region's share of the pixels. */
  density: Record<string, number>;
  /** The region of highest density. */
  responds: string;
}

export interface NeuronRegionReport {
  /** Channels, largest |contribution| first. */
  rows: NeuronRegionRow[];
  /** Per region: Σ |contribution| · share / Σ |contribution| — where the decision's evidence sits. */
  weightedShare: Record<string, number>;
  /** Per region: its mean share of the pixels. */
  area: Record<string, number>;
}

export async function neuronRegions(o: NeuronRegionOptions): Promise<NeuronRegionReport> {
  const [N, , H, W] = o.images.shape;
  const names = Object.keys(o.regions);
  for (const r of names) {
    if (o.regions[r].length !== N) throw new Error(`cflens: neuronRegions: region '${r}' has ${o.regions[r].length} masks for ${N} images`);
    const bad = o.regions[r].find((m) => m.length !== H * W);
    if (bad) throw new Error(`cflens: neuronRegions: a mask of region '${r}' has ${bad.length} pixels, the images ${H * W}`);
  }
  const maps = noGrad(() => tidy(() => interpolate(o.features(o.images), { size: [H, W], mode: 'bilinear' })));
  const C = maps.shape[1];
  if (o.headWeight.length !== o.classes * C) {
    maps.dispose();
    throw new Error(`cflens: neuronRegions: the head weight has ${o.headWeight.length} values, expected ${o.classes} × ${C} channels`);
  }
  const a = Float32Array.from(await maps.toArray());
  maps.dispose();
  const P = H * W;
  const rows: NeuronRegionRow[] = [];
  const area = Object.fromEntries(names.map((r) => [r, o.regions[r].reduce((s, m) => s + m.reduce((x, v) => x + v, 0), 0) / (N * P)]));
  for (let c = 0; c < C; c++) {
    let total = 0;
    const inside = Object.fromEntries(names.map((r) => [r, 0]));
    for (let n = 0; n < N; n++) {
      const base = (n * C + c) * P;
      for (let p = 0; p < P; p++) {
        const v = Math.max(0, a[base + p]);
        total += v;
        for (const r of names) if (o.regions[r][n][p]) inside[r] += v;
      }
    }
    const others = Array.from({ length: o.classes }, (_, k) => k).filter((k) => k !== o.cls);
    const wDiff = o.headWeight[o.cls * C + c] - others.reduce((s, k) => s + o.headWeight[k * C + c], 0) / Math.max(1, others.length);
    const share = Object.fromEntries(names.map((r) => [r, total > 0 ? inside[r] / total : 0]));
    const density = Object.fromEntries(names.map((r) => [r, area[r] > 0 ? share[r] / area[r] : 0]));
    const responds = names.reduce((b, r) => (density[r] > density[b] ? r : b), names[0]);
    rows.push({ channel: c, contribution: wDiff * (total / (N * P)), share, density, responds });
  }
  rows.sort((x, y) => Math.abs(y.contribution) - Math.abs(x.contribution));
  const norm = rows.reduce((s, r) => s + Math.abs(r.contribution), 0);
  const weightedShare = Object.fromEntries(names.map((r) => [r, norm > 0 ? rows.reduce((s, x) => s + Math.abs(x.contribution) * x.share[r], 0) / norm : 0]));
  return { rows, weightedShare, area };
}
