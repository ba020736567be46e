// LANCE's language side (Prabhu et al., "LANCE: Stress-testing Visual Models by Generating Language-guided
// Counterfactual Images", NeurIPS 2023) for the world: a captioner that writes a caption from what the
// attribute reader reads, a rule-based perturber that edits one phrase of it by edit type, the paper's
// random-word control (LANCE-R), and the check that an edit does not touch the class itself. Captioner and
// perturber are interfaces: an external captioner or language model can stand in for either.
//   edit types: object (glasses, hat, earrings, beard), adjective (hair, skin, eye colour, face shape),
//   background (colour, pattern), domain (lighting: appended, since the reader does not read it).
import type { AttributeReading } from '../world/attribute-columns.js';
import { attributeSpec, type AttributeName } from '../world/attributes.js';
import { Rng } from '../world/rng.js';

export type EditType = 'object' | 'adjective' | 'background' | 'domain';

export const EDIT_TYPES: Readonly<Record<string, EditType>> = {
  glasses: 'object', hat: 'object', earrings: 'object', beard: 'object',
  hair_color: 'adjective', skin_tone: 'adjective', eye_color: 'adjective', face_shape: 'adjective',
  background_color: 'background', background_pattern: 'background',
  brightness: 'domain', light_direction: 'domain',
};

/** The order phrases take in a world caption (the class attribute, e.g. smiling, included). */
const CAPTION_ORDER = [
  'smiling', 'hair_color', 'eye_color', 'skin_tone', 'face_shape', 'beard', 'glasses', 'hat', 'earrings', 'background_color', 'background_pattern',
];

export interface CaptionEdit {
  caption: string;
  edited: string;
  type: EditType;
  attribute: string;
  /** The phrase replaced ('' where a phrase was appended) and its replacement. */
  from: string;
  to: string;
}

export interface Captioner { caption(reading: AttributeReading): string }
export interface Perturber { perturb(reading: AttributeReading, caption: string): CaptionEdit[] }

/** The phrase of one attribute's value: 'blond hair', 'glasses' / 'no glasses', 'smiling' / 'neutral'. */
export function phraseOf(attribute: string, value: string | boolean): string {
  const spec = attributeSpec(attribute as AttributeName);
  if (spec.kind === 'binary') return spec.words[value ? 1 : 0];
  if (spec.kind === 'categorical') return spec.words[spec.values.indexOf(value as string)];
  throw new Error(`cflens: LANCE: ${attribute} is continuous; it has no phrase of a read value`);
}

/** "a face with smiling, blond hair, blue eyes, …" from a reading, in the style world-sd was trained on. */
export const worldCaptioner: Captioner = {
  caption: (r) => `a face with ${CAPTION_ORDER.filter((a) => a in r).map((a) => phraseOf(a, r[a])).join(', ')}`,
};

/**
 * One edit per attribute of EDIT_TYPES but the class's: a binary phrase flipped ('glasses' ↔ 'no
 * glasses'), a categorical value swapped for another (drawn from `rng`), a lighting phrase appended.
 */
export function worldPerturber(classAttribute: string | null, rng: Rng): Perturber {
  return {
    perturb(r, caption) {
      const edits: CaptionEdit[] = [];
      for (const [attribute, type] of Object.entries(EDIT_TYPES)) {
        if (attribute === classAttribute) continue;
        const spec = attributeSpec(attribute as AttributeName);
        if (spec.kind === 'continuous') {
          const to = spec.words[rng.int(2) === 0 ? 0 : 2];
          edits.push({ caption, edited: `${caption}, ${to}`, type, attribute, from: '', to });
          continue;
        }
        if (!(attribute in r)) continue;
        const from = phraseOf(attribute, r[attribute]);
        const others = spec.kind === 'binary' ? [!r[attribute]] : spec.values.filter((v) => v !== r[attribute]);
        const to = phraseOf(attribute, others[rng.int(others.length)] as string | boolean);
        edits.push({ caption, edited: replacePhrase(caption, from, to), type, attribute, from, to });
      }
      return edits;
    },
  };
}

/** LANCE-R: a random phrase of the caption replaced by a random word (the bank's distractors). */
export function randomWordPerturber(words: readonly string[], rng: Rng, count = 4): Perturber {
  return {
    perturb(_r, caption) {
      const head = 'a face with ';
      const phrases = caption.startsWith(head) ? caption.slice(head.length).split(', ') : caption.split(', ');
      return Array.from({ length: count }, () => {
        const i = rng.int(phrases.length);
        const to = words[rng.int(words.length)];
        const edited = phrases.map((p, j) => (j === i ? to : p));
        const text = `${caption.startsWith(head) ? head : ''}${edited.join(', ')}`;
        return { caption, edited: text, type: 'object' as EditType, attribute: 'random', from: phrases[i], to };
      });
    },
  };
}

function replacePhrase(caption: string, from: string, to: string): string {
  const parts = caption.split(/(, | with )/);
  const i = parts.findIndex((p) => p === from);
  if (i < 0) throw new Error(`cflens: LANCE: the caption "${caption}" has no phrase "${from}" to edit`);
  parts[i] = to;
  return parts.join('');
}

/**
 * LANCE's caption check: an edit may not change the class's own words, nor words too close to them
 * (text-embedding similarity of the new phrase to any class word above `threshold`).
 */
export function editKeepsClass(
  edit: CaptionEdit, classWords: readonly string[], similarity: (a: string, b: string) => number, threshold = 0.8,
): boolean {
  if (classWords.some((w) => edit.from.includes(w) || edit.to.includes(w))) return false;
  return classWords.every((w) => similarity(edit.to, w) < threshold);
}
