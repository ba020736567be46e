// CPU renderer of the toy-face world. Shapes are signed distance functions in "face coordinates"
// (u, v) in [0, 1]² (the image square before nuisance jitter; u right, v down); they are painted back
// to front with analytic anti-aliasing (coverage = clamp(0.5 - d, 0, 1), d the distance in pixels),
// then the global lighting is applied. Pure TypeScript, no DOM, no Node APIs.
import {
  caption, validateAttributes,
  type AttributeName, type Attributes, type BackgroundColor, type EyeColor, type FaceShape, type HairColor, type RegionName, type SkinTone,
  attributeSpec,
} from './attributes.js';
import { Rng } from './rng.js';

export type RGB = readonly [number, number, number];

/** Segmentation classes of `mask`. */
export const MASK_CLASSES = ['background', 'skin', 'hair', 'accessory', 'eyes', 'mouth', 'clothing'] as const;
export const MASK = { background: 0, skin: 1, hair: 2, accessory: 3, eyes: 4, mouth: 5, clothing: 6 } as const;

/** Keypoints, in this order; "left" is image-left. */
export const KEYPOINT_NAMES = ['left_eye', 'right_eye', 'nose_tip', 'mouth_left', 'mouth_right'] as const;

export interface RenderOptions {
  /** Image side in pixels (default 32; the drawing is designed for 32 and up). */
  size?: number;
  /** Seed of the nuisance jitter (position, scale, rotation, background pattern phase). Default 0. */
  seed?: number;
  /** Apply the nuisance jitter (default true). With false the face sits exactly on the canonical layout. */
  jitter?: boolean;
  /** Pixel range: '01' (default) or 'pm1' ([-1, 1] = 2·x - 1). */
  range?: '01' | 'pm1';
}

export interface RenderResult {
  size: number;
  /** 3·size·size floats, CHW (R plane, G plane, B plane), row-major, in the requested range. */
  image: Float32Array;
  /** size·size class ids (MASK_CLASSES): the topmost shape covering at least half of the pixel. */
  mask: Uint8Array;
  /** KEYPOINT_NAMES.length × 2 floats (x, y) in pixels; pixel (row i, column j) has its centre at (j + 0.5, i + 0.5). */
  keypoints: Float32Array;
  caption: string;
}

/** Nuisance pose: canonical face coordinates → image, p = c + t + s·R(rotation)·(q − c), c = (0.5, 0.5). */
export interface Pose {
  tx: number;
  ty: number;
  scale: number;
  rotation: number;
  /** Phase of the background pattern, in periods. */
  phase: number;
}

export const IDENTITY_POSE: Pose = { tx: 0, ty: 0, scale: 1, rotation: 0, phase: 0 };

/** The jitter ranges (uniform): translation ±0.04 of the image side, scale 0.93–1.05, rotation ±0.12 rad (±7°). */
export const JITTER = { translate: 0.04, scaleMin: 0.93, scaleMax: 1.05, rotate: 0.12 } as const;

/** The nuisance pose for a seed (identity when jitter is off). */
export function nuisancePose(seed = 0, jitter = true): Pose {
  if (!jitter) return IDENTITY_POSE;
  const r = new Rng(seed);
  return {
    tx: r.uniform(-JITTER.translate, JITTER.translate),
    ty: r.uniform(-JITTER.translate, JITTER.translate),
    scale: r.uniform(JITTER.scaleMin, JITTER.scaleMax),
    rotation: r.uniform(-JITTER.rotate, JITTER.rotate),
    phase: r.float(),
  };
}

// ---------------------------------------------------------------------------------------------
// Palette and layout (face coordinates).

export const SKIN_RGB: Record<SkinTone, RGB> = {
  light: [0.98, 0.84, 0.73],
  medium: [0.88, 0.67, 0.5],
  tan: [0.7, 0.48, 0.32],
  dark: [0.44, 0.29, 0.2],
};
export const HAIR_RGB: Record<HairColor, RGB> = {
  black: [0.11, 0.09, 0.09],
  brown: [0.43, 0.26, 0.13],
  blond: [0.94, 0.77, 0.34],
  red: [0.8, 0.28, 0.1],
  grey: [0.72, 0.72, 0.74],
};
export const EYE_RGB: Record<EyeColor, RGB> = {
  brown: [0.45, 0.25, 0.08],
  blue: [0.2, 0.5, 0.95],
  green: [0.18, 0.66, 0.28],
};
export const BACKGROUND_RGB: Record<BackgroundColor, RGB> = {
  blue: [0.42, 0.62, 0.92],
  green: [0.5, 0.8, 0.46],
  yellow: [0.98, 0.9, 0.5],
  pink: [0.97, 0.6, 0.76],
  grey: [0.6, 0.6, 0.62],
};
const CLOTHES: RGB = [0.27, 0.3, 0.37];
const HAT: RGB = [0.18, 0.22, 0.5];
const HAT_BAND: RGB = [0.86, 0.18, 0.2];
const FRAME: RGB = [0.07, 0.07, 0.09];
const LENS: RGB = [0.82, 0.92, 1.0];
const GOLD: RGB = [1.0, 0.78, 0.12];
const SCLERA: RGB = [0.98, 0.98, 0.98];
const PUPIL: RGB = [0.04, 0.04, 0.05];
const MOUTH: RGB = [0.45, 0.07, 0.1];
const TEETH: RGB = [0.99, 0.98, 0.95];
const LIPS: RGB = [0.55, 0.18, 0.2];

const CX = 0.5;
/** Width of the darker outline around the face and the hair, face units. */
const OUTLINE = 0.013;
/** Face geometry in face coordinates. The upper half (v < cy) is shared by all face shapes. */
export const FACE = { cy: 0.47, rx: 0.22, ryTop: 0.27 } as const;
/** Lower half of the face per shape: vertical radius and how much the jaw narrows toward the chin. */
export const FACE_SHAPE_PARAMS: Record<FaceShape, { ryBot: number; taper: number }> = {
  round: { ryBot: 0.235, taper: -0.05 },
  oval: { ryBot: 0.3, taper: 0.14 },
  long: { ryBot: 0.37, taper: 0.2 },
};
export const EYES = { dx: 0.1, y: 0.47, rx: 0.064, ry: 0.046, iris: 0.037, pupil: 0.015 } as const;
const NOSE = { y: 0.555, rx: 0.03, ry: 0.032, tip: 0.578 } as const;
/** Open smile: below an upper lip that sags by `sag` in the middle, above an ellipse of radii rx, ry. */
const SMILE = { y: 0.652, rx: 0.092, ry: 0.07, sag: 0.014, teeth: 0.018 } as const;
const NEUTRAL = { y: 0.668, half: 0.062, r: 0.016 } as const;
const GLASSES = { r: 0.084, w: 0.013, templeTo: 0.228 } as const;
const EARS = { dx: 0.222, y: 0.485, rx: 0.036, ry: 0.054 } as const;
const EARRING = { dx: 0.226, y: 0.562, r: 0.021 } as const;
/** Hairline of the fringe: v = HAIRLINE.top + HAIRLINE.curve·((u − HAIRLINE.part)/rx)². */
const HAIRLINE = { top: 0.285, curve: 0.1, part: 0.47 } as const;

/** An axis-aligned box [u0, v0, u1, v1] in face coordinates. */
export type Box = readonly [number, number, number, number];

/**
 * The designed regions of the box-shaped kinds (face coordinates, before the one-pixel margin that
 * `attributeRegion` adds for anti-aliasing). Each attribute draws only inside its boxes.
 */
export const REGION_BOXES: Partial<Record<RegionName, readonly Box[]>> = {
  mouth: [[0.4, 0.63, 0.6, 0.73]],
  eye_band: [[0.26, 0.37, 0.74, 0.57]],
  eyes: [
    [CX - EYES.dx - 0.07, 0.42, CX - EYES.dx + 0.07, 0.52],
    [CX + EYES.dx - 0.07, 0.42, CX + EYES.dx + 0.07, 0.52],
  ],
  hat: [[0.19, -1, 0.81, 0.33]],
  beard: [[0.255, 0.48, 0.745, 0.88]],
  ear_lobes: [
    [CX - 0.265, 0.525, CX - 0.185, 0.6],
    [CX + 0.185, 0.525, CX + 0.265, 0.6],
  ],
  lower_head: [[0.2, 0.46, 0.8, 0.92]],
};

// ---------------------------------------------------------------------------------------------
// Signed distances (negative inside), face units.

/** Ellipse, Quilez's first-order approximation (exact on the boundary, good near it). */
function sdEllipse(px: number, py: number, rx: number, ry: number): number {
  const ax = px / rx;
  const ay = py / ry;
  const bx = ax / rx;
  const by = ay / ry;
  const k0 = Math.sqrt(ax * ax + ay * ay);
  const k1 = Math.sqrt(bx * bx + by * by);
  return k1 === 0 ? -Math.min(rx, ry) : (k0 * (k0 - 1)) / k1;
}
function sdCircle(px: number, py: number, r: number): number {
  return Math.sqrt(px * px + py * py) - r;
}
function sdRoundBox(px: number, py: number, hx: number, hy: number, r: number): number {
  const qx = Math.abs(px) - hx + r;
  const qy = Math.abs(py) - hy + r;
  const mx = qx > 0 ? qx : 0;
  const my = qy > 0 ? qy : 0;
  return Math.sqrt(mx * mx + my * my) + Math.min(Math.max(qx, qy), 0) - r;
}
/** Capsule around the segment a→b with radius r. */
function sdSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number, r: number): number {
  const pax = px - ax;
  const pay = py - ay;
  const bax = bx - ax;
  const bay = by - ay;
  const h = Math.max(0, Math.min(1, (pax * bax + pay * bay) / (bax * bax + bay * bay)));
  const dx = pax - bax * h;
  const dy = pay - bay * h;
  return Math.sqrt(dx * dx + dy * dy) - r;
}

/** The face outline for a face shape. */
function faceSdf(shape: FaceShape): (u: number, v: number) => number {
  const { ryBot, taper } = FACE_SHAPE_PARAMS[shape];
  return (u, v) => {
    const dx = u - CX;
    const dy = v - FACE.cy;
    if (dy <= 0) return sdEllipse(dx, dy, FACE.rx, FACE.ryTop);
    const t = Math.min(dy / ryBot, 1);
    const k = 1 - taper * t * t;
    return sdEllipse(dx / k, dy, FACE.rx, ryBot) * Math.min(k, 1);
  };
}

// ---------------------------------------------------------------------------------------------
// Scene.

type Tag = 'skin' | 'hair' | 'other';

interface Layer {
  name: string;
  /** Mask class written where coverage ≥ 0.5; -1 leaves the mask alone (translucent layers). */
  cls: number;
  /** Bounding box of the shape, face coordinates. */
  box: Box;
  /** Optional tighter boxes whose union holds the shape (e.g. one per eye). */
  boxes?: readonly Box[];
  sdf: (u: number, v: number) => number;
  color: RGB;
  /** A band of `width` (face units) around the shape, painted in `color` (unshaded) just before it. */
  outline?: { width: number; color: RGB };
  /** Multiplicative shading of `color` (face coordinates). */
  shade?: (u: number, v: number) => number;
  opacity: number;
  tag: Tag;
}

const mul = (c: RGB, k: number): RGB => [c[0] * k, c[1] * k, c[2] * k];

/** A box on the left of the face centre line and its mirror image. */
const mirrored = (b: Box): Box[] => [b, [2 * CX - b[2], b[1], 2 * CX - b[0], b[3]]];
const union = (bs: readonly Box[]): Box => [
  Math.min(...bs.map((b) => b[0])), Math.min(...bs.map((b) => b[1])), Math.max(...bs.map((b) => b[2])), Math.max(...bs.map((b) => b[3])),
];

/** The layers of a face, back to front (attribute-dependent, pose-independent). */
function buildScene(a: Attributes): Layer[] {
  const skin = SKIN_RGB[a.skin_tone];
  const hair = HAIR_RGB[a.hair_color];
  const face = faceSdf(a.face_shape);
  const chin = FACE.cy + FACE_SHAPE_PARAMS[a.face_shape].ryBot;
  const L: Layer[] = [];
  const add = (l: Omit<Layer, 'opacity' | 'tag'> & { opacity?: number; tag?: Tag }): void => {
    L.push({ opacity: 1, tag: 'other', ...l });
  };
  const hairShade = (u: number, v: number): number => 0.9 + 0.2 * Math.max(0, 1 - Math.sqrt((u - 0.42) ** 2 + (v - 0.24) ** 2) / 0.13);

  add({ name: 'clothes', cls: MASK.clothing, box: [0.08, 0.87, 0.92, 1.3], color: CLOTHES,
    sdf: (u, v) => sdEllipse(u - CX, v - 1.08, 0.4, 0.2),
    shade: (u) => 1 - 0.25 * Math.abs(u - CX) });
  add({ name: 'neck', cls: MASK.skin, box: [0.4, 0.62, 0.6, 0.96], color: mul(skin, 0.84), tag: 'skin',
    sdf: (u, v) => sdRoundBox(u - CX, v - 0.79, 0.085, 0.16, 0.03) });
  add({ name: 'hair_back', cls: MASK.hair, box: [0.22, 0.12, 0.78, 0.55], color: hair, tag: 'hair', shade: hairShade,
    outline: { width: OUTLINE, color: mul(hair, 0.55) },
    sdf: (u, v) => Math.max(sdEllipse(u - CX, v - 0.445, 0.258, 0.3), v - 0.535) });
  const earBoxes = mirrored([CX - EARS.dx - EARS.rx - 0.01, EARS.y - EARS.ry - 0.01, CX - EARS.dx + EARS.rx + 0.01, EARS.y + EARS.ry + 0.01]);
  add({ name: 'ears', cls: MASK.skin, box: union(earBoxes), boxes: earBoxes,
    color: mul(skin, 0.95), tag: 'skin',
    sdf: (u, v) => sdEllipse(Math.abs(u - CX) - EARS.dx, v - EARS.y, EARS.rx, EARS.ry) });
  add({ name: 'face', cls: MASK.skin, box: [CX - FACE.rx - 0.04, FACE.cy - FACE.ryTop - 0.02, CX + FACE.rx + 0.04, chin + 0.02],
    color: skin, tag: 'skin', sdf: face, outline: { width: OUTLINE, color: mul(skin, 0.62) },
    shade: (u, v) => 1 - 0.13 * ((u - CX) / FACE.rx) ** 2 - 0.06 * Math.max(0, (v - 0.62) / 0.2) });
  add({ name: 'nose', cls: MASK.skin, box: [CX - NOSE.rx - 0.01, NOSE.y - NOSE.ry - 0.01, CX + NOSE.rx + 0.01, NOSE.y + NOSE.ry + 0.01],
    color: mul(skin, 0.8), tag: 'skin',
    sdf: (u, v) => sdEllipse(u - CX, v - NOSE.y, NOSE.rx, NOSE.ry) });
  if (a.beard) {
    add({ name: 'beard', cls: MASK.hair, box: [CX - FACE.rx - 0.03, 0.48, CX + FACE.rx + 0.03, chin + 0.025], color: mul(hair, 0.92), tag: 'hair',
      sdf: (u, v) => Math.max(face(u, v) - 0.012, -sdEllipse(u - CX, v - 0.5, 0.165, 0.125), 0.49 - v) });
  }
  if (a.smiling) {
    const upper = (u: number, v: number, lift: number): number => {
      const t = (u - CX) / SMILE.rx;
      const slope = (-2 * SMILE.sag * t) / SMILE.rx;
      return (SMILE.y + SMILE.sag * (1 - t * t) + lift - v) / Math.sqrt(1 + slope * slope);
    };
    const mouth = (u: number, v: number): number => Math.max(sdEllipse(u - CX, v - SMILE.y, SMILE.rx, SMILE.ry), upper(u, v, 0));
    const box: Box = [CX - SMILE.rx - 0.01, SMILE.y - 0.01, CX + SMILE.rx + 0.01, SMILE.y + SMILE.ry + 0.01];
    add({ name: 'mouth', cls: MASK.mouth, box, color: MOUTH, sdf: mouth });
    add({ name: 'teeth', cls: MASK.mouth, box, color: TEETH, sdf: (u, v) => Math.max(mouth(u, v), -upper(u, v, SMILE.teeth)) });
  } else {
    add({ name: 'mouth', cls: MASK.mouth, box: [CX - NEUTRAL.half - 0.03, NEUTRAL.y - 0.03, CX + NEUTRAL.half + 0.03, NEUTRAL.y + 0.03], color: LIPS,
      sdf: (u, v) => sdSegment(u, v, CX - NEUTRAL.half, NEUTRAL.y, CX + NEUTRAL.half, NEUTRAL.y, NEUTRAL.r) });
  }
  const eyeBoxes = mirrored([CX - EYES.dx - EYES.rx - 0.01, EYES.y - EYES.ry - 0.01, CX - EYES.dx + EYES.rx + 0.01, EYES.y + EYES.ry + 0.01]);
  const eyeBox = union(eyeBoxes);
  const sclera = (u: number, v: number): number => sdEllipse(Math.abs(u - CX) - EYES.dx, v - EYES.y, EYES.rx, EYES.ry);
  add({ name: 'sclera', cls: MASK.eyes, box: eyeBox, boxes: eyeBoxes, color: SCLERA, sdf: sclera });
  add({ name: 'iris', cls: MASK.eyes, box: eyeBox, boxes: eyeBoxes, color: EYE_RGB[a.eye_color],
    sdf: (u, v) => Math.max(sdCircle(Math.abs(u - CX) - EYES.dx, v - EYES.y, EYES.iris), sclera(u, v)) });
  add({ name: 'pupil', cls: MASK.eyes, box: eyeBox, boxes: eyeBoxes, color: PUPIL,
    sdf: (u, v) => sdCircle(Math.abs(u - CX) - EYES.dx, v - EYES.y, EYES.pupil) });
  add({ name: 'glint', cls: -1, box: eyeBox, boxes: eyeBoxes, color: SCLERA, opacity: 0.85,
    sdf: (u, v) => sdCircle(u - CX - (u < CX ? -EYES.dx : EYES.dx) - 0.013, v - EYES.y + 0.013, 0.008) });
  const browBoxes = mirrored([CX - EYES.dx - 0.07, 0.36, CX - EYES.dx + 0.07, 0.42]);
  add({ name: 'eyebrows', cls: MASK.hair, box: union(browBoxes), boxes: browBoxes, color: mul(hair, 0.72), tag: 'hair',
    sdf: (u, v) => {
      const x = Math.abs(u - CX);
      return sdSegment(x, v, EYES.dx - 0.048, 0.398, EYES.dx + 0.05, 0.388, 0.014);
    } });
  const hairline = (u: number): number => HAIRLINE.top + HAIRLINE.curve * ((u - HAIRLINE.part) / FACE.rx) ** 2;
  add({ name: 'fringe', cls: MASK.hair, box: [CX - 0.245, 0.15, CX + 0.245, 0.46], color: hair, tag: 'hair', shade: hairShade,
    sdf: (u, v) => {
      const slope = (2 * HAIRLINE.curve * (u - HAIRLINE.part)) / (FACE.rx * FACE.rx);
      return Math.max(sdEllipse(u - CX, v - 0.445, 0.236, 0.285), (v - hairline(u)) / Math.sqrt(1 + slope * slope));
    } });
  if (a.glasses) {
    const gBox: Box = [CX - GLASSES.templeTo - 0.02, EYES.y - GLASSES.r - 0.02, CX + GLASSES.templeTo + 0.02, EYES.y + GLASSES.r + 0.02];
    add({ name: 'lenses', cls: -1, box: gBox, color: LENS, opacity: 0.3,
      sdf: (u, v) => sdCircle(Math.abs(u - CX) - EYES.dx, v - EYES.y, GLASSES.r) });
    add({ name: 'frames', cls: MASK.accessory, box: gBox, color: FRAME,
      sdf: (u, v) => {
        const x = Math.abs(u - CX);
        const ring = Math.abs(sdCircle(x - EYES.dx, v - EYES.y, GLASSES.r)) - GLASSES.w;
        const bridge = sdSegment(x, v, 0, EYES.y - 0.02, EYES.dx - GLASSES.r + 0.005, EYES.y - 0.015, GLASSES.w * 0.8);
        const temple = sdSegment(x, v, EYES.dx + GLASSES.r - 0.005, EYES.y - 0.012, GLASSES.templeTo, EYES.y - 0.02, GLASSES.w * 0.8);
        return Math.min(ring, bridge, temple);
      } });
  }
  if (a.hat) {
    const crown = (u: number, v: number): number => sdRoundBox(u - CX, v - 0.165, 0.2, 0.115, 0.07);
    add({ name: 'hat', cls: MASK.accessory, box: [CX - 0.21, 0.04, CX + 0.21, 0.29], color: HAT, sdf: crown,
      shade: (u) => 1.1 - 0.4 * Math.abs(u - 0.45) });
    add({ name: 'hat_band', cls: MASK.accessory, box: [CX - 0.21, 0.2, CX + 0.21, 0.29], color: HAT_BAND,
      sdf: (u, v) => Math.max(crown(u, v), Math.abs(v - 0.245) - 0.024) });
    add({ name: 'hat_brim', cls: MASK.accessory, box: [CX - 0.3, 0.255, CX + 0.3, 0.32], color: mul(HAT, 0.8),
      sdf: (u, v) => sdRoundBox(u - CX, v - 0.288, 0.29, 0.026, 0.024) });
  }
  if (a.earrings) {
    const ringBoxes = mirrored([CX - EARRING.dx - 0.035, 0.52, CX - EARRING.dx + 0.035, 0.595]);
    add({ name: 'earrings', cls: MASK.accessory, box: union(ringBoxes), boxes: ringBoxes, color: GOLD,
      sdf: (u, v) => {
        const x = Math.abs(u - CX);
        return Math.min(sdCircle(x - EARRING.dx, v - EARRING.y, EARRING.r), sdSegment(x, v, EARRING.dx, 0.532, EARRING.dx, EARRING.y, 0.006));
      },
      shade: (_u, v) => 1.05 - 6 * Math.max(0, v - EARRING.y) });
  }
  return L;
}

/** Keypoints in face coordinates (pose not applied). */
function canonicalKeypoints(a: Attributes): number[] {
  const mouth = a.smiling ? { half: SMILE.rx, y: SMILE.y } : { half: NEUTRAL.half, y: NEUTRAL.y };
  return [
    CX - EYES.dx, EYES.y,
    CX + EYES.dx, EYES.y,
    CX, NOSE.tip,
    CX - mouth.half, mouth.y,
    CX + mouth.half, mouth.y,
  ];
}

// ---------------------------------------------------------------------------------------------
// Rasterisation.

interface Frame {
  size: number;
  /** Face coordinates of pixel centre (x, y): u = u0 + ux·x + uy·y, v = v0 + vx·x + vy·y. */
  u0: number; ux: number; uy: number;
  v0: number; vx: number; vy: number;
  /** Pixels per face unit. */
  ppu: number;
  pose: Pose;
}

function makeFrame(size: number, pose: Pose): Frame {
  const c = Math.cos(pose.rotation);
  const s = Math.sin(pose.rotation);
  const k = 1 / pose.scale;
  // q = (x + 0.5)/size − 0.5 − t ;  (u, v) = 0.5 + R(−θ)·q / scale
  const qx0 = 0.5 / size - 0.5 - pose.tx;
  const qy0 = 0.5 / size - 0.5 - pose.ty;
  return {
    size,
    u0: 0.5 + k * (c * qx0 + s * qy0), ux: (k * c) / size, uy: (k * s) / size,
    v0: 0.5 + k * (-s * qx0 + c * qy0), vx: (-k * s) / size, vy: (k * c) / size,
    ppu: size * pose.scale,
    pose,
  };
}

/** Face coordinates → pixel coordinates (continuous, pixel centres at half-integers). */
function toPixel(f: Frame, u: number, v: number): [number, number] {
  const { pose } = f;
  const c = Math.cos(pose.rotation);
  const s = Math.sin(pose.rotation);
  const du = (u - 0.5) * pose.scale;
  const dv = (v - 0.5) * pose.scale;
  return [(0.5 + pose.tx + c * du - s * dv) * f.size, (0.5 + pose.ty + s * du + c * dv) * f.size];
}

/** Pixel index range [x0, x1] × [y0, y1] that can see a face-coordinate box (one pixel margin). */
function pixelRange(f: Frame, b: Box): [number, number, number, number] {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const [u, v] of [[b[0], b[1]], [b[2], b[1]], [b[0], b[3]], [b[2], b[3]]] as const) {
    const [px, py] = toPixel(f, u, v);
    x0 = Math.min(x0, px);
    x1 = Math.max(x1, px);
    y0 = Math.min(y0, py);
    y1 = Math.max(y1, py);
  }
  const n = f.size - 1;
  return [Math.max(0, Math.floor(x0 - 1)), Math.max(0, Math.floor(y0 - 1)), Math.min(n, Math.ceil(x1 + 1)), Math.min(n, Math.ceil(y1 + 1))];
}

const STRIPE_PERIOD = 0.17;
const DOT_SPACING = 0.16;
const DOT_RADIUS = 0.036;

/** Background colour and pattern, in image coordinates (the pattern does not follow the face). */
function paintBackground(a: Attributes, f: Frame, image: Float32Array): void {
  const size = f.size;
  const hw = size * size;
  const base = BACKGROUND_RGB[a.background_color];
  const tint: RGB = [base[0] * 0.55 + 0.45, base[1] * 0.55 + 0.45, base[2] * 0.55 + 0.45];
  const phase = f.pose.phase;
  for (let y = 0; y < size; y++) {
    const yy = (y + 0.5) / size;
    for (let x = 0; x < size; x++) {
      const xx = (x + 0.5) / size;
      let cov = 0;
      if (a.background_pattern === 'stripes') {
        // diagonal stripes, half the period wide; distance across the stripes in image units
        let g = (xx + yy) / STRIPE_PERIOD + phase - 0.25;
        g -= Math.round(g);
        const d = (Math.abs(g) - 0.25) * (STRIPE_PERIOD / Math.SQRT2);
        cov = Math.max(0, Math.min(1, 0.5 - d * size));
      } else if (a.background_pattern === 'dots') {
        const row = Math.floor(yy / DOT_SPACING + phase);
        let gx = xx / DOT_SPACING + phase + (row & 1 ? 0.5 : 0);
        let gy = yy / DOT_SPACING + phase;
        gx -= Math.floor(gx) + 0.5;
        gy -= Math.floor(gy) + 0.5;
        const d = Math.sqrt(gx * gx + gy * gy) * DOT_SPACING - DOT_RADIUS;
        cov = Math.max(0, Math.min(1, 0.5 - d * size));
      }
      const i = y * size + x;
      image[i] = base[0] + (tint[0] - base[0]) * cov;
      image[hw + i] = base[1] + (tint[1] - base[1]) * cov;
      image[2 * hw + i] = base[2] + (tint[2] - base[2]) * cov;
    }
  }
}

/** Disjoint pixel ranges covering a layer (its `boxes`, merged into one range if any two overlap). */
function layerRanges(l: Layer, f: Frame): [number, number, number, number][] {
  if (!l.boxes) return [pixelRange(f, l.box)];
  const rs = l.boxes.map((b) => pixelRange(f, b));
  for (let i = 0; i < rs.length; i++) {
    for (let j = i + 1; j < rs.length; j++) {
      const a = rs[i];
      const b = rs[j];
      if (a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]) return [pixelRange(f, l.box)];
    }
  }
  return rs;
}

function paintLayer(l: Layer, f: Frame, image: Float32Array, mask: Uint8Array): void {
  for (const r of layerRanges(l, f)) paintRange(l, f, r, image, mask);
}

function paintRange(l: Layer, f: Frame, [x0, y0, x1, y1]: [number, number, number, number], image: Float32Array, mask: Uint8Array): void {
  const size = f.size;
  const hw = size * size;
  const { ppu } = f;
  const [cr, cg, cb] = l.color;
  const shade = l.shade;
  const ow = l.outline ? l.outline.width * ppu : 0;
  const [or, og, ob] = l.outline ? l.outline.color : l.color;
  for (let y = y0; y <= y1; y++) {
    let u = f.u0 + f.ux * x0 + f.uy * y;
    let v = f.v0 + f.vx * x0 + f.vy * y;
    for (let x = x0; x <= x1; x++, u += f.ux, v += f.vx) {
      const d = l.sdf(u, v) * ppu;
      if (d - ow >= 0.5) continue;
      if (ow > 0) {
        // the outline: the same shape grown by `ow` pixels, painted first
        const dOut = d - ow;
        const covOut = dOut <= -0.5 ? 1 : 0.5 - dOut;
        const aOut = covOut * l.opacity;
        const i = y * size + x;
        image[i] += (or - image[i]) * aOut;
        image[hw + i] += (og - image[hw + i]) * aOut;
        image[2 * hw + i] += (ob - image[2 * hw + i]) * aOut;
        if (l.cls >= 0 && covOut >= 0.5) mask[i] = l.cls;
        if (d >= 0.5) continue;
      }
      const cov = d <= -0.5 ? 1 : 0.5 - d;
      const alpha = cov * l.opacity;
      const k = shade ? shade(u, v) : 1;
      const i = y * size + x;
      image[i] += (cr * k - image[i]) * alpha;
      image[hw + i] += (cg * k - image[hw + i]) * alpha;
      image[2 * hw + i] += (cb * k - image[2 * hw + i]) * alpha;
      if (l.cls >= 0 && cov >= 0.5) mask[i] = l.cls;
    }
  }
}

function applyLighting(a: Attributes, size: number, image: Float32Array, range: '01' | 'pm1'): void {
  const hw = size * size;
  const gain = 1 + 0.3 * a.brightness;
  const ramp = 0.35 * a.light_direction;
  for (let x = 0; x < size; x++) {
    const k = gain * (1 + ramp * ((x + 0.5) / size - 0.5));
    for (let y = 0; y < size; y++) {
      const i = y * size + x;
      for (let c = 0; c < 3; c++) {
        const j = c * hw + i;
        const val = Math.min(1, Math.max(0, image[j] * k));
        image[j] = range === 'pm1' ? 2 * val - 1 : val;
      }
    }
  }
}

function checkSize(size: number): number {
  if (!Number.isInteger(size) || size < 8 || size > 4096) throw new Error(`cflens: world: render size must be an integer in [8, 4096], got ${size}`);
  return size;
}

/** Output buffers for `renderInto` (views into a batch are fine). */
export interface RenderTarget {
  image: Float32Array;
  mask: Uint8Array;
  keypoints: Float32Array;
}

/** Renders into caller-owned buffers (3·size², size², 2·K). Returns nothing; see `render`. */
export function renderInto(a: Attributes, opts: RenderOptions, out: RenderTarget): void {
  const size = checkSize(opts.size ?? 32);
  const hw = size * size;
  if (out.image.length < 3 * hw || out.mask.length < hw || out.keypoints.length < 2 * KEYPOINT_NAMES.length) {
    throw new Error(`cflens: world: renderInto: buffers too small for size ${size}`);
  }
  const f = makeFrame(size, nuisancePose(opts.seed ?? 0, opts.jitter ?? true));
  out.mask.fill(0, 0, hw);
  paintBackground(a, f, out.image);
  for (const l of buildScene(a)) paintLayer(l, f, out.image, out.mask);
  applyLighting(a, size, out.image, opts.range ?? '01');
  const kp = canonicalKeypoints(a);
  for (let k = 0; k < kp.length; k += 2) {
    const [px, py] = toPixel(f, kp[k], kp[k + 1]);
    out.keypoints[k] = px;
    out.keypoints[k + 1] = py;
  }
}

/**
 * Renders one toy face. Deterministic in (attributes, size, seed, jitter, range): the same inputs
 * give identical bytes. Changing one attribute with everything else equal changes only that
 * attribute's region (`attributeRegion`), the basis of exact counterfactual pairs.
 */
export function render(a: Attributes, opts: RenderOptions = {}): RenderResult {
  validateAttributes(a);
  const size = checkSize(opts.size ?? 32);
  const out: RenderTarget = {
    image: new Float32Array(3 * size * size),
    mask: new Uint8Array(size * size),
    keypoints: new Float32Array(2 * KEYPOINT_NAMES.length),
  };
  renderInto(a, opts, out);
  return { size, ...out, caption: caption(a) };
}

/**
 * Ground truth of where an attribute acts: 1 for every pixel whose value may change when this
 * attribute alone changes (any value to any other, all other attributes and the seed fixed), 0 where
 * it provably cannot. Depends on the other attributes and the pose but not on the attribute's own
 * value. Box regions (REGION_BOXES) and silhouettes get a margin for anti-aliasing
 * (box: one pixel; silhouette: every pixel with any coverage).
 */
export function attributeRegion(name: AttributeName, a: Attributes, opts: RenderOptions = {}): Uint8Array {
  const size = checkSize(opts.size ?? 32);
  const f = makeFrame(size, nuisancePose(opts.seed ?? 0, opts.jitter ?? true));
  return regionMask(attributeSpec(name).region, a, f);
}

/** The pixels of a named region (see RegionName), for attributes `a` and render options. */
export function namedRegion(region: RegionName, a: Attributes, opts: RenderOptions = {}): Uint8Array {
  const size = checkSize(opts.size ?? 32);
  return regionMask(region, a, makeFrame(size, nuisancePose(opts.seed ?? 0, opts.jitter ?? true)));
}

function regionMask(region: RegionName, a: Attributes, f: Frame): Uint8Array {
  const size = f.size;
  const out = new Uint8Array(size * size);
  if (region === 'global') return out.fill(1);
  const boxes = REGION_BOXES[region];
  if (boxes) {
    const m = 1 / f.ppu; // one pixel, in face units
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const u = f.u0 + f.ux * x + f.uy * y;
        const v = f.v0 + f.vx * x + f.vy * y;
        for (const b of boxes) {
          if (u >= b[0] - m && u <= b[2] + m && v >= b[1] - m && v <= b[3] + m) {
            out[y * size + x] = 1;
            break;
          }
        }
      }
    }
    return out;
  }
  const layers = buildScene(a);
  if (region === 'background') {
    // background shows wherever no opaque layer covers the pixel fully
    out.fill(1);
    for (const l of layers) {
      if (l.opacity < 1) continue;
      const ow = l.outline ? l.outline.width * f.ppu : 0;
      forEachPixel(l, f, (i, d) => {
        if (d - ow <= -0.5) out[i] = 0;
      });
    }
    return out;
  }
  const tag: Tag = region === 'hair' ? 'hair' : 'skin';
  for (const l of layers) {
    if (l.tag !== tag) continue;
    const ow = l.outline ? l.outline.width * f.ppu : 0;
    forEachPixel(l, f, (i, d) => {
      if (d - ow < 0.5) out[i] = 1;
    });
  }
  return out;
}

function forEachPixel(l: Layer, f: Frame, fn: (i: number, dPixels: number) => void): void {
  for (const [x0, y0, x1, y1] of layerRanges(l, f)) {
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const u = f.u0 + f.ux * x + f.uy * y;
        const v = f.v0 + f.vx * x + f.vy * y;
        fn(y * f.size + x, l.sdf(u, v) * f.ppu);
      }
    }
  }
}

/** Face coordinates → pixel coordinates for render options (e.g. to place custom probes). */
export function faceToPixel(u: number, v: number, opts: RenderOptions = {}): [number, number] {
  const size = checkSize(opts.size ?? 32);
  return toPixel(makeFrame(size, nuisancePose(opts.seed ?? 0, opts.jitter ?? true)), u, v);
}
