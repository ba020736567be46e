// LANCE's world captioner and perturbers: captions from readings, one edit per attribute and type that
// changes exactly its phrase, the random-word control, and the class check.
import { describe, expect, it } from 'vitest';
import { editKeepsClass, phraseOf, randomWordPerturber, worldCaptioner, worldPerturber } from '../../src/diagnosis/lance-captions.js';
import { Rng } from '../../src/world/rng.js';

const reading = {
  smiling: true, glasses: false, hat: true, beard: false, earrings: false, hair_color: 'blond', skin_tone: 'light', eye_color: 'blue',
  face_shape: 'round', background_color: 'green', background_pattern: 'plain',
};

describe('LANCE captions', () => {
  it('captions a reading in world-sd training style', () => {
    expect(worldCaptioner.caption(reading)).toBe(
      'a face with smiling, blond hair, blue eyes, light skin, round face, no beard, no glasses, a hat, no earrings, green background, plain',
    );
    expect(phraseOf('glasses', true)).toBe('glasses');
  });

  it('perturbs one phrase per attribute (never the class), by edit type', () => {
    const caption = worldCaptioner.caption(reading);
    const edits = worldPerturber('smiling', new Rng(1)).perturb(reading, caption);
    expect(edits.map((e) => e.attribute).sort()).toEqual([
      'background_color', 'background_pattern', 'beard', 'brightness', 'earrings', 'eye_color', 'face_shape', 'glasses', 'hair_color', 'hat',
      'light_direction', 'skin_tone',
    ]);
    const hair = edits.find((e) => e.attribute === 'hair_color')!;
    expect(hair.type).toBe('adjective');
    expect(hair.from).toBe('blond hair');
    expect(hair.to).toMatch(/^(black|brown|red|grey) hair$/);
    expect(hair.edited).toBe(caption.replace('blond hair', hair.to));
    const hat = edits.find((e) => e.attribute === 'hat')!;
    expect([hat.type, hat.from, hat.to]).toEqual(['object', 'a hat', 'no hat']);
    const light = edits.find((e) => e.attribute === 'brightness')!;
    expect(light.type).toBe('domain');
    expect(light.edited.startsWith(`${caption}, `)).toBe(true);
    for (const e of edits) expect(e.edited).not.toBe(caption);
  });

  it('LANCE-R replaces a random phrase by a random word; the class check refuses edits near the class', () => {
    const caption = worldCaptioner.caption(reading);
    const r = randomWordPerturber(['scarf', 'freckles'], new Rng(2), 3).perturb(reading, caption);
    expect(r).toHaveLength(3);
    for (const e of r) expect(e.edited.split(', ').length).toBe(caption.split(', ').length);
    const sim = (a: string, b: string) => (a.includes('grin') && b === 'smiling' ? 0.9 : 0.1);
    const edit = { caption, edited: '', type: 'object' as const, attribute: 'x', from: 'no beard', to: 'a grin' };
    expect(editKeepsClass(edit, ['smiling', 'neutral'], sim)).toBe(false);
    expect(editKeepsClass({ ...edit, to: 'a beard' }, ['smiling', 'neutral'], sim)).toBe(true);
    expect(editKeepsClass({ ...edit, from: 'smiling', to: 'neutral' }, ['smiling', 'neutral'], sim)).toBe(false);
  });
});
