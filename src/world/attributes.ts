// Attributes of the synthetic toy-face world: specs, sampling, numeric encodings, captions and
// binary "features" (a predicate on attributes, e.g. `hair_color=blond`) used by the dataset sampler.
import type { Rng } from './rng.js';

export const HAIR_COLORS = ['black', 'brown', 'blond', 'red', 'grey'] as const;
export const SKIN_TONES = ['light', 'medium', 'tan', 'dark'] as const;
export const EYE_COLORS = ['brown', 'blue', 'green'] as const;
export const FACE_SHAPES = ['round', 'oval', 'long'] as const;
export const BACKGROUND_COLORS = ['blue', 'green', 'yellow', 'pink', 'grey'] as const;
export const BACKGROUND_PATTERNS = ['plain', 'stripes', 'dots'] as const;

export type HairColor = (typeof HAIR_COLORS)[number];
export type SkinTone = (typeof SKIN_TONES)[number];
export type EyeColor = (typeof EYE_COLORS)[number];
export type FaceShape = (typeof FACE_SHAPES)[number];
export type BackgroundColor = (typeof BACKGROUND_COLORS)[number];
export type BackgroundPattern = (typeof BACKGROUND_PATTERNS)[number];

/** One toy face, fully described. Rendering is a pure function of these plus a nuisance seed. */
export interface Attributes {
  smiling: boolean;
  glasses: boolean;
  hat: boolean;
  beard: boolean;
  earrings: boolean;
  hair_color: HairColor;
  skin_tone: SkinTone;
  eye_color: EyeColor;
  face_shape: FaceShape;
  background_color: BackgroundColor;
  background_pattern: BackgroundPattern;
  /** Global brightness in [-1, 1]: the whole image is scaled by 1 + 0.3·brightness. */
  brightness: number;
  /** Light direction in [-1, 1]: -1 lit from the left, +1 from the right (a global horizontal ramp). */
  light_direction: number;
}

export type AttributeName = keyof Attributes;
export type AttributeKind = 'binary' | 'categorical' | 'continuous';

/**
 * Where an attribute is allowed to change pixels (see `attributeRegion` in render.ts and README.md):
 * - mouth, eye_band, eyes, hat, beard, ear_lobes, lower_head: fixed boxes in face coordinates
 * - hair, skin: the silhouettes of the hair-coloured / skin-coloured shapes
 * - background: every pixel not fully covered by the figure
 * - global: every pixel (lighting)
 */
export type RegionName =
  | 'mouth' | 'eye_band' | 'eyes' | 'hat' | 'beard' | 'ear_lobes' | 'lower_head' | 'hair' | 'skin' | 'background' | 'global';

interface SpecBase {
  name: AttributeName;
  region: RegionName;
  description: string;
}
export interface BinarySpec extends SpecBase {
  kind: 'binary';
  values: readonly [false, true];
  /** Caption phrase for [absent, present]. */
  words: readonly [string, string];
}
export interface CategoricalSpec extends SpecBase {
  kind: 'categorical';
  values: readonly string[];
  /** Caption phrase per value. */
  words: readonly string[];
}
export interface ContinuousSpec extends SpecBase {
  kind: 'continuous';
  range: readonly [number, number];
  /** Values below thresholds[0] get words[0], above thresholds[1] words[2], else words[1]. */
  thresholds: readonly [number, number];
  words: readonly [string, string, string];
}
export type AttributeSpec = BinarySpec | CategoricalSpec | ContinuousSpec;

const BIN = [false, true] as const;

/** The world's attributes, in a fixed order (the order of `encodeAttributes` and of sampling). */
export const ATTRIBUTES: readonly AttributeSpec[] = [
  { name: 'smiling', kind: 'binary', values: BIN, words: ['neutral', 'smiling'], region: 'mouth',
    description: 'open smiling mouth (teeth, corners up) vs a flat closed mouth' },
  { name: 'glasses', kind: 'binary', values: BIN, words: ['no glasses', 'glasses'], region: 'eye_band',
    description: 'round dark frames with a faint lens tint, bridge and temples, over the eyes' },
  { name: 'hat', kind: 'binary', values: BIN, words: ['no hat', 'a hat'], region: 'hat',
    description: 'navy hat with a red band and a brim over the top of the head' },
  { name: 'beard', kind: 'binary', values: BIN, words: ['no beard', 'a beard'], region: 'beard',
    description: 'hair-coloured beard along the jaw and chin' },
  { name: 'earrings', kind: 'binary', values: BIN, words: ['no earrings', 'earrings'], region: 'ear_lobes',
    description: 'gold drops under both ear lobes' },
  { name: 'hair_color', kind: 'categorical', values: HAIR_COLORS, words: HAIR_COLORS.map((c) => `${c} hair`), region: 'hair',
    description: 'colour of the hair, eyebrows (darker) and beard' },
  { name: 'skin_tone', kind: 'categorical', values: SKIN_TONES, words: SKIN_TONES.map((c) => `${c} skin`), region: 'skin',
    description: 'colour of the face, ears, nose and neck' },
  { name: 'eye_color', kind: 'categorical', values: EYE_COLORS, words: EYE_COLORS.map((c) => `${c} eyes`), region: 'eyes',
    description: 'colour of the irises' },
  { name: 'face_shape', kind: 'categorical', values: FACE_SHAPES, words: FACE_SHAPES.map((c) => `${c} face`), region: 'lower_head',
    description: 'outline of the lower face (jaw and chin) below the eye line; eyes, nose, mouth and ears stay put' },
  { name: 'background_color', kind: 'categorical', values: BACKGROUND_COLORS, words: BACKGROUND_COLORS.map((c) => `${c} background`), region: 'background',
    description: 'colour of the background' },
  { name: 'background_pattern', kind: 'categorical', values: BACKGROUND_PATTERNS, words: ['plain', 'striped', 'dotted'], region: 'background',
    description: 'plain, diagonal stripes or dots in a lighter tint of the background colour' },
  { name: 'brightness', kind: 'continuous', range: [-1, 1], thresholds: [-1 / 3, 1 / 3], words: ['dimly lit', 'evenly lit', 'brightly lit'], region: 'global',
    description: 'GLOBAL: every pixel is multiplied by 1 + 0.3·brightness' },
  { name: 'light_direction', kind: 'continuous', range: [-1, 1], thresholds: [-1 / 3, 1 / 3],
    words: ['from the left', 'from the front', 'from the right'], region: 'global',
    description: 'GLOBAL: every pixel is multiplied by a horizontal ramp 1 + 0.35·light_direction·(x - 0.5), x in [0, 1] across the image' },
];

const SPEC_BY_NAME = new Map<string, AttributeSpec>(ATTRIBUTES.map((s) => [s.name, s]));

/** The spec of one attribute (throws on an unknown name). */
export function attributeSpec(name: string): AttributeSpec {
  const s = SPEC_BY_NAME.get(name);
  if (!s) throw new Error(`cflens: world: unknown attribute '${name}' (known: ${ATTRIBUTES.map((a) => a.name).join(', ')})`);
  return s;
}

export interface Interval {
  min?: number;
  max?: number;
}
/**
 * Restrictions for `sampleAttributes`: a fixed value, a list of allowed values, or for continuous
 * attributes an interval (a value may equal `min`; it stays below `max`).
 */
export type Constraints = {
  [K in AttributeName]?: Attributes[K] extends number ? number | Interval : Attributes[K] | readonly Attributes[K][];
};

function allowedValues(spec: BinarySpec | CategoricalSpec, c: unknown): readonly (string | boolean)[] {
  if (c === undefined) return spec.values;
  const list = Array.isArray(c) ? (c as (string | boolean)[]) : [c as string | boolean];
  for (const v of list) {
    if (!(spec.values as readonly (string | boolean)[]).includes(v)) {
      throw new Error(`cflens: world: constraint ${spec.name}=${String(v)} is not one of ${spec.values.join(', ')}`);
    }
  }
  if (list.length === 0) throw new Error(`cflens: world: constraint on ${spec.name} allows no value`);
  return list;
}

/**
 * Samples one attribute vector: binaries fair coins, categoricals uniform over the allowed values,
 * continuous uniform over the (constrained) range. Exactly one `rng.float()` per attribute in
 * ATTRIBUTES order, so constraining one attribute leaves the others' draws unchanged.
 */
export function sampleAttributes(rng: Rng, constraints: Constraints = {}): Attributes {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(constraints)) attributeSpec(key);
  for (const spec of ATTRIBUTES) {
    const u = rng.float();
    const c = (constraints as Record<string, unknown>)[spec.name];
    if (spec.kind === 'continuous') {
      if (typeof c === 'number') {
        out[spec.name] = c;
      } else {
        const iv = (c ?? {}) as Interval;
        const lo = Math.max(spec.range[0], iv.min ?? -Infinity);
        const hi = Math.min(spec.range[1], iv.max ?? Infinity);
        if (!(hi > lo)) throw new Error(`cflens: world: constraint on ${spec.name} leaves an empty interval [${lo}, ${hi})`);
        out[spec.name] = lo + (hi - lo) * u;
      }
    } else {
      const vals = allowedValues(spec, c);
      out[spec.name] = vals[Math.min(vals.length - 1, Math.floor(u * vals.length))];
    }
  }
  return out as unknown as Attributes;
}

/** Checks an attribute object (all keys present, values legal); throws a descriptive error. */
export function validateAttributes(a: Attributes): Attributes {
  for (const spec of ATTRIBUTES) {
    const v = (a as unknown as Record<string, unknown>)[spec.name];
    if (spec.kind === 'continuous') {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`cflens: world: ${spec.name} must be a finite number, got ${String(v)}`);
    } else if (!(spec.values as readonly unknown[]).includes(v)) {
      throw new Error(`cflens: world: ${spec.name} must be one of ${spec.values.join(', ')}, got ${String(v)}`);
    }
  }
  return a;
}

/** A copy with some attributes replaced (the counterfactual of `a` under `changes`). */
export function withAttributes(a: Attributes, changes: Partial<Attributes>): Attributes {
  return validateAttributes({ ...a, ...changes });
}

/**
 * Compact numeric encoding, one number per attribute in ATTRIBUTES order:
 * binary 0/1, categorical the value's index, continuous the value itself.
 */
export function encodeAttributes(a: Attributes): Float32Array {
  const out = new Float32Array(ATTRIBUTES.length);
  ATTRIBUTES.forEach((spec, i) => {
    const v = (a as unknown as Record<string, unknown>)[spec.name];
    if (spec.kind === 'binary') out[i] = v ? 1 : 0;
    else if (spec.kind === 'categorical') out[i] = spec.values.indexOf(v as string);
    else out[i] = v as number;
  });
  return out;
}

/** Inverse of `encodeAttributes`. */
export function decodeAttributes(vec: ArrayLike<number>): Attributes {
  if (vec.length !== ATTRIBUTES.length) throw new Error(`cflens: world: decodeAttributes: expected ${ATTRIBUTES.length} numbers, got ${vec.length}`);
  const out: Record<string, unknown> = {};
  ATTRIBUTES.forEach((spec, i) => {
    const x = vec[i];
    if (spec.kind === 'binary') out[spec.name] = x >= 0.5;
    else if (spec.kind === 'categorical') out[spec.name] = spec.values[Math.round(x)];
    else out[spec.name] = x;
  });
  return validateAttributes(out as unknown as Attributes);
}

/** Names of the one-hot features: binary `glasses`, categorical `hair_color=red`, continuous `brightness`. */
export function oneHotNames(): string[] {
  const names: string[] = [];
  for (const spec of ATTRIBUTES) {
    if (spec.kind === 'categorical') for (const v of spec.values) names.push(`${spec.name}=${v}`);
    else names.push(spec.name);
  }
  return names;
}

/** One-hot encoding (binary 0/1, categorical one-hot, continuous raw value), columns as `oneHotNames()`. */
export function oneHotAttributes(a: Attributes): Float32Array {
  const out: number[] = [];
  for (const spec of ATTRIBUTES) {
    const v = (a as unknown as Record<string, unknown>)[spec.name];
    if (spec.kind === 'categorical') for (const c of spec.values) out.push(c === v ? 1 : 0);
    else if (spec.kind === 'binary') out.push(v ? 1 : 0);
    else out.push(v as number);
  }
  return Float32Array.from(out);
}

/** The caption word (phrase) of one attribute's current value. */
export function attributeWord(a: Attributes, name: AttributeName): string {
  const spec = attributeSpec(name);
  const v = a[name];
  if (spec.kind === 'binary') return spec.words[v ? 1 : 0];
  if (spec.kind === 'categorical') return spec.words[spec.values.indexOf(v as string)];
  const x = v as number;
  return spec.words[x < spec.thresholds[0] ? 0 : x > spec.thresholds[1] ? 2 : 1];
}

function listJoin(xs: string[]): string {
  if (xs.length <= 1) return xs.join('');
  return `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`;
}

/**
 * The caption of an attribute vector, mentioning every attribute:
 * "a smiling oval face with red hair, blue eyes, light skin and a beard, wearing glasses and a hat,
 *  on a blue striped background, brightly lit from the left".
 * Absent binary accessories are left out (no "no glasses"); `smiling` is "smiling" or "neutral".
 */
export function caption(a: Attributes): string {
  const shape = a.face_shape;
  const head = `a ${attributeWord(a, 'smiling')} ${shape} face`;
  const traits = [attributeWord(a, 'hair_color'), attributeWord(a, 'eye_color'), attributeWord(a, 'skin_tone')];
  if (a.beard) traits.push(attributeWord(a, 'beard'));
  const worn: string[] = [];
  if (a.glasses) worn.push(attributeWord(a, 'glasses'));
  if (a.hat) worn.push(attributeWord(a, 'hat'));
  if (a.earrings) worn.push(attributeWord(a, 'earrings'));
  const pattern = attributeWord(a, 'background_pattern');
  const bg = a.background_pattern === 'plain' ? `on a plain ${a.background_color} background` : `on a ${a.background_color} ${pattern} background`;
  const light = `${attributeWord(a, 'brightness')} ${attributeWord(a, 'light_direction')}`;
  return `${head} with ${listJoin(traits)}${worn.length ? `, wearing ${listJoin(worn)}` : ''}, ${bg}, ${light}`;
}

/** A binary predicate on attributes, with the constraints that make it true or false. */
export interface Feature {
  /** Canonical spelling: `glasses`, `hair_color=blond`, `brightness>0`. */
  key: string;
  attribute: AttributeName;
  test(a: Attributes): boolean;
  constraint(value: boolean): Constraints;
}

/**
 * Parses a feature: a binary attribute (`smiling`), `attr=value` for a categorical value
 * (`hair_color=blond`, also the short forms `hair_blond` / `blond_hair`), or `attr>t` / `attr<t`
 * for a continuous attribute.
 */
export function parseFeature(text: string): Feature {
  const t = text.trim();
  const cmp = /^([a-z_]+)\s*([<>])\s*(-?[0-9.]+)$/.exec(t);
  if (cmp) {
    const spec = attributeSpec(cmp[1]);
    if (spec.kind !== 'continuous') throw new Error(`cflens: world: feature '${text}': ${spec.name} is not continuous`);
    const thr = Number(cmp[3]);
    const gt = cmp[2] === '>';
    const name = spec.name;
    return {
      key: `${name}${cmp[2]}${thr}`,
      attribute: name,
      // Intervals are [min, max), so `x > t` is tested as x ≥ t (a measure-zero difference) to keep
      // test() and constraint() exactly consistent.
      test: (a) => (gt ? (a[name] as number) >= thr : (a[name] as number) < thr),
      constraint: (v) => ({ [name]: v === gt ? { min: thr } : { max: thr } }) as Constraints,
    };
  }
  let name: string | undefined;
  let value: string | undefined;
  const eq = /^([a-z_]+)\s*[=:]\s*([a-z_]+)$/.exec(t);
  if (eq) {
    name = eq[1];
    value = eq[2];
  } else if (SPEC_BY_NAME.has(t)) {
    name = t;
  } else {
    // short forms: hair_blond, blond_hair, background_blue, blue_background, skin_dark, ...
    for (const spec of ATTRIBUTES) {
      if (spec.kind !== 'categorical') continue;
      const prefix = spec.name.split('_')[0];
      for (const v of spec.values) {
        if (t === `${prefix}_${v}` || t === `${v}_${prefix}` || t === `${spec.name}_${v}`) {
          name = spec.name;
          value = v;
        }
      }
    }
    if (!name) throw new Error(`cflens: world: cannot parse feature '${text}' (try 'glasses', 'hair_color=blond', 'brightness>0')`);
  }
  const spec = attributeSpec(name);
  const attr = spec.name;
  if (spec.kind === 'binary') {
    if (value !== undefined && value !== 'true' && value !== '1') throw new Error(`cflens: world: feature '${text}': ${attr} is binary`);
    return { key: attr, attribute: attr, test: (a) => a[attr] === true, constraint: (v) => ({ [attr]: v }) as Constraints };
  }
  if (spec.kind === 'continuous') throw new Error(`cflens: world: feature '${text}': ${attr} is continuous, use '${attr}>t'`);
  if (value === undefined || !spec.values.includes(value)) {
    throw new Error(`cflens: world: feature '${text}': value must be one of ${spec.values.join(', ')}`);
  }
  const val = value;
  const others = spec.values.filter((v) => v !== val);
  return {
    key: `${attr}=${val}`,
    attribute: attr,
    test: (a) => a[attr] === val,
    constraint: (v) => ({ [attr]: v ? val : others }) as Constraints,
  };
}

/** Intersects two constraint sets (throws when they contradict). */
export function mergeConstraints(a: Constraints, b: Constraints): Constraints {
  const out: Record<string, unknown> = { ...a };
  for (const [k, vb] of Object.entries(b)) {
    if (vb === undefined) continue;
    const va = out[k];
    if (va === undefined) {
      out[k] = vb;
      continue;
    }
    const spec = attributeSpec(k);
    if (spec.kind === 'continuous') {
      const ia: Interval = typeof va === 'number' ? { min: va, max: va } : (va as Interval);
      const ib: Interval = typeof vb === 'number' ? { min: vb, max: vb } : (vb as Interval);
      if (typeof va === 'number' || typeof vb === 'number') {
        const fixed = (typeof va === 'number' ? va : vb) as number;
        const other = typeof va === 'number' ? ib : ia;
        if ((other.min !== undefined && fixed < other.min) || (other.max !== undefined && fixed >= other.max)) {
          throw new Error(`cflens: world: contradictory constraints on ${k}`);
        }
        out[k] = fixed;
      } else {
        out[k] = { min: Math.max(ia.min ?? -Infinity, ib.min ?? -Infinity), max: Math.min(ia.max ?? Infinity, ib.max ?? Infinity) };
      }
    } else {
      const la = Array.isArray(va) ? va : [va];
      const lb = Array.isArray(vb) ? vb : [vb];
      const both = la.filter((x) => lb.includes(x));
      if (both.length === 0) throw new Error(`cflens: world: contradictory constraints on ${k}`);
      out[k] = both.length === 1 ? both[0] : both;
    }
  }
  return out as Constraints;
}
