// UMO's attribute matching with the shipped world CLIP on exact counterfactual pairs (the world
// re-rendered with one attribute changed): the phrase of the new value must rank first among the 84
// phrases of data/banks/world.json (its groups and distractors), by S_sim.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIPModel, fromArray, l2normalize, noGrad, tidy, type Tensor } from '../../src/index.js';
import { loadTokenizer } from '../../src/models/pretrained.js';
import type { CLIPTokenizer } from '../../src/io/clip-tokenizer.js';
import { tokenizeBatch } from '../../src/train/tasks.js';
import { Rng, render, sampleAttributes, type Attributes, type Constraints } from '../../src/world/index.js';
import { differences, rowsOf, similarityScores, textDirections } from '../../src/diagnosis/attribute-matching.js';
import { bankPhrases, bareTemplate, fillTemplate, parseBank } from '../../src/diagnosis/bank.js';
import { setupGpu } from '../helpers/gpu.js';

const DIR = 'models/defaults/clip';
const bank = parseBank(readFileSync('data/banks/world.json', 'utf8'), 'data/banks/world.json');
const phrases = bankPhrases(bank).map((p) => p.phrase);

let model: CLIPModel;
let tok: CLIPTokenizer;
let directions: Float32Array[];

async function embedText(texts: string[]): Promise<Float32Array[]> {
  const t = noGrad(() => tidy(() => l2normalize(model.getTextFeatures(tokenizeBatch(tok, texts)))));
  const rows = await rowsOf(t);
  t.dispose();
  return rows;
}

async function embedImages(faces: Attributes[]): Promise<Float32Array[]> {
  const size = 32;
  const data = new Float32Array(faces.length * 3 * size * size);
  faces.forEach((a, i) => data.set(render(a, { size, seed: i, range: 'pm1' }).image, i * 3 * size * size));
  const t: Tensor = noGrad(() => tidy(() => l2normalize(model.getImageFeatures(fromArray(data, [faces.length, 3, size, size])))));
  const rows = await rowsOf(t);
  t.dispose();
  return rows;
}

beforeAll(async () => {
  await setupGpu();
  model = await CLIPModel.fromPretrained(DIR);
  model.eval();
  tok = await loadTokenizer(DIR);
  const templates = await embedText(bank.templates.map(bareTemplate));
  const withPhrase = await Promise.all(bank.templates.map((t) => embedText(phrases.map((p) => fillTemplate(t, p)))));
  directions = textDirections(templates, withPhrase);
}, 120_000);

describe('attribute matching with the world CLIP', () => {
  const edits: Array<{ from: Constraints; to: Partial<Attributes>; phrase: string }> = [
    { from: { glasses: false }, to: { glasses: true }, phrase: 'glasses' },
    { from: { hat: false }, to: { hat: true }, phrase: 'a hat' },
    { from: { beard: false }, to: { beard: true }, phrase: 'a beard' },
    { from: { hair_color: ['black', 'brown', 'red', 'grey'] }, to: { hair_color: 'blond' }, phrase: 'blond hair' },
    { from: { background_color: ['green', 'yellow', 'pink', 'grey'] }, to: { background_color: 'blue' }, phrase: 'blue background' },
  ];
  for (const e of edits) {
    it(`exact counterfactuals to ${JSON.stringify(e.to)}: "${e.phrase}" ranks first of ${phrases.length} phrases`, async () => {
      const rng = new Rng(11);
      const faces = Array.from({ length: 6 }, () => sampleAttributes(rng, e.from));
      const changes = differences(await embedImages(faces), await embedImages(faces.map((a) => ({ ...a, ...e.to }))));
      const s = similarityScores(changes, directions);
      const best = s.indexOf(Math.max(...s));
      expect(phrases[best], `scores: ${phrases.map((p, i) => `${p} ${s[i].toFixed(2)}`).sort().join(', ')}`).toBe(e.phrase);
    }, 60_000);
  }
});
