// Target models as UMO/ZOOM see them: a differentiable forward on images, a goal computed once from the
// original outputs, L_target towards that goal, and whether a counterfactual has flipped the prediction.
//   classes       cross-entropy to the flipped class (2 classes) or the second most probable one
//   keypoints     MSE to a random similarity transform of the predicted keypoints
//   segmentation  per-pixel cross-entropy to each pixel's second most probable class
import type { Tensor } from '../autograd/tensor.js';
import { fromArray } from '../ops/creation.js';
import { crossEntropy, mseLoss } from '../ops/loss.js';
import { Rng } from '../world/rng.js';
import { readItems } from './readback.js';

export type TargetKind = 'classes' | 'keypoints' | 'segmentation';

/** What a counterfactual of each image aims at, fixed from the original outputs. */
export interface TargetGoal {
  /** Original prediction per image: class; keypoints (flat); per-pixel classes (flat). */
  original: Float32Array[];
  /** Goal per image, same layout as `original`. */
  goal: Float32Array[];
  /** Classes: p(original class) of the original outputs, per image. */
  start?: Float32Array[];
}

/** The goals of some images, in `ids` order. */
export function pickGoals(g: TargetGoal, ids: readonly number[]): TargetGoal {
  return {
    original: ids.map((i) => g.original[i]), goal: ids.map((i) => g.goal[i]),
    ...(g.start ? { start: ids.map((i) => g.start![i]) } : {}),
  };
}

/** softmax(v)[i]. */
function softmaxAt(v: Float32Array, i: number): number {
  const m = v.reduce((a, b) => Math.max(a, b), -Infinity);
  const s = v.reduce((a, b) => a + Math.exp(b - m), 0);
  return Math.exp(v[i] - m) / s;
}

export interface DiagnosisTarget {
  readonly kind: TargetKind;
  readonly name: string;
  /** Outputs for images (the model's own input range): logits [N, C], keypoints [N, 2K], logits [N, C, H, W]. */
  forward(x: Tensor): Tensor;
  /** The goal of every image from the original outputs (one readback). */
  goal(outputs: Tensor): Promise<TargetGoal>;
  /** L_target (0-d, differentiable) of outputs against the goals. */
  loss(outputs: Tensor, goal: TargetGoal): Tensor;
  /** Per image: has the prediction left the original for the goal? */
  flipped(outputs: Tensor, goal: TargetGoal): Promise<boolean[]>;
  /**
   * Per image, how far the prediction has moved from the original towards the goal, 0 at the original:
   * classes 1 − p(original class) − (the same of the original outputs); keypoints the distance moved
   * as a share of the distance to the goal; segmentation the share of pixels that changed class.
   * ZOOM's sensitivity of an attribute is its mean over images.
   */
  progress(outputs: Tensor, goal: TargetGoal): Promise<number[]>;
}

/** Indices of the largest and second largest of `C` values at `offset + c·stride`. */
function topTwo(v: Float32Array, C: number, offset = 0, stride = 1): [number, number] {
  let a = 0;
  let b = -1;
  for (let c = 1; c < C; c++) {
    const x = v[offset + c * stride];
    if (x > v[offset + a * stride]) [a, b] = [c, a];
    else if (b < 0 || x > v[offset + b * stride]) b = c;
  }
  return [a, b < 0 ? a : b];
}

function checkOutputs(name: string, t: Tensor, rank: number, what: string): void {
  if (t.ndim !== rank) throw new Error(`cflens: target ${name}: expected ${what} of rank ${rank}, got shape [${t.shape.join(', ')}]`);
}

/** A classifier: logits [N, C], C ≥ 2. */
export function classifierTarget(name: string, forward: (x: Tensor) => Tensor): DiagnosisTarget {
  return {
    kind: 'classes', name, forward,
    async goal(out) {
      checkOutputs(name, out, 2, 'logits [N, C]');
      const C = out.shape[1];
      if (C < 2) throw new Error(`cflens: target ${name}: a classifier needs at least 2 classes, got ${C}`);
      const r = await readItems(out);
      return {
        original: r.map((v) => Float32Array.of(topTwo(v, C)[0])), goal: r.map((v) => Float32Array.of(topTwo(v, C)[1])),
        start: r.map((v) => Float32Array.of(softmaxAt(v, topTwo(v, C)[0]))),
      };
    },
    loss(out, g) {
      return crossEntropy(out, g.goal.map((v) => v[0]));
    },
    async flipped(out, g) {
      const C = out.shape[1];
      return (await readItems(out)).map((v, n) => topTwo(v, C)[0] !== g.original[n][0]);
    },
    async progress(out, g) {
      return (await readItems(out)).map((v, n) => (g.start?.[n][0] ?? 1) - softmaxAt(v, g.original[n][0]));
    },
  };
}

export interface KeypointGoalOptions {
  seed?: number;
  /** Rotation drawn from ±maxRotation radians (default 0.26, 15°). */
  maxRotation?: number;
  /** Scale drawn from [1 − maxScale, 1 + maxScale] (default 0.1). */
  maxScale?: number;
  /** Translation drawn from ±maxShift of the image, per axis (default 0.05). */
  maxShift?: number;
}

/**
 * A keypoint detector: [N, 2K] coordinates (x, y pairs, as fractions of the image). The goal moves the
 * predicted keypoints by a random similarity transform about their centroid; a counterfactual has
 * flipped when its keypoints are nearer the goal than the original prediction.
 */
export function keypointTarget(name: string, forward: (x: Tensor) => Tensor, o: KeypointGoalOptions = {}): DiagnosisTarget {
  const rng = new Rng(o.seed ?? 0);
  const draw = (m: number) => (2 * rng.float() - 1) * m;
  return {
    kind: 'keypoints', name, forward,
    async goal(out) {
      checkOutputs(name, out, 2, 'keypoints [N, 2K]');
      if (out.shape[1] % 2) throw new Error(`cflens: target ${name}: keypoints [N, 2K] need an even width, got ${out.shape[1]}`);
      const original = await readItems(out);
      const goal = original.map((p) => {
        const K = p.length / 2;
        let cx = 0;
        let cy = 0;
        for (let k = 0; k < K; k++) [cx, cy] = [cx + p[2 * k] / K, cy + p[2 * k + 1] / K];
        const th = draw(o.maxRotation ?? 0.26);
        const s = 1 + draw(o.maxScale ?? 0.1);
        const [tx, ty] = [draw(o.maxShift ?? 0.05), draw(o.maxShift ?? 0.05)];
        const q = new Float32Array(p.length);
        for (let k = 0; k < K; k++) {
          const [dx, dy] = [p[2 * k] - cx, p[2 * k + 1] - cy];
          q[2 * k] = cx + tx + s * (Math.cos(th) * dx - Math.sin(th) * dy);
          q[2 * k + 1] = cy + ty + s * (Math.sin(th) * dx + Math.cos(th) * dy);
        }
        return q;
      });
      return { original, goal };
    },
    loss(out, g) {
      return mseLoss(out, fromArray(Float32Array.from(g.goal.flatMap((v) => [...v])), out.shape, { ctx: out.ctx }));
    },
    async flipped(out, g) {
      const d2 = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0);
      return (await readItems(out)).map((v, n) => d2(v, g.goal[n]) < d2(v, g.original[n]));
    },
    async progress(out, g) {
      const d = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
      return (await readItems(out)).map((v, n) => d(v, g.original[n]) / Math.max(1e-12, d(g.goal[n], g.original[n])));
    },
  };
}

/**
 * A segmenter: logits [N, C, H, W]. The goal is each pixel's second most probable class; a
 * counterfactual has flipped when at least `flipShare` of its pixels changed class (default 0.25).
 */
export function segmenterTarget(name: string, forward: (x: Tensor) => Tensor, o: { flipShare?: number } = {}): DiagnosisTarget {
  const perPixel = (v: Float32Array, C: number, HW: number, which: 0 | 1) =>
    Float32Array.from({ length: HW }, (_, p) => topTwo(v, C, p, HW)[which]);
  return {
    kind: 'segmentation', name, forward,
    async goal(out) {
      checkOutputs(name, out, 4, 'logits [N, C, H, W]');
      const [, C, H, W] = out.shape;
      const r = await readItems(out);
      return { original: r.map((v) => perPixel(v, C, H * W, 0)), goal: r.map((v) => perPixel(v, C, H * W, 1)) };
    },
    loss(out, g) {
      return crossEntropy(out, g.goal.flatMap((v) => [...v]));
    },
    async flipped(out, g) {
      const [, C, H, W] = out.shape;
      return (await readItems(out)).map((v, n) => {
        const now = perPixel(v, C, H * W, 0);
        const changed = now.reduce((s, c, p) => s + (c !== g.original[n][p] ? 1 : 0), 0);
        return changed >= (o.flipShare ?? 0.25) * H * W;
      });
    },
    async progress(out, g) {
      const [, C, H, W] = out.shape;
      return (await readItems(out)).map((v, n) => perPixel(v, C, H * W, 0).reduce((s, c, p) => s + (c !== g.original[n][p] ? 1 : 0), 0) / (H * W));
    },
  };
}
