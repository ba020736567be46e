import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bankFromList, bankPhrases, bareTemplate, fillTemplate, parseBank } from '../../src/diagnosis/bank.js';

describe('attribute banks', () => {
  it('the shipped banks parse with the counts data/banks/README.md gives', () => {
    const counts: Record<string, number> = { world: 84, faces: 130, animals: 112 };
    for (const [name, n] of Object.entries(counts)) {
      const bank = parseBank(readFileSync(`data/banks/${name}.json`, 'utf8'), `data/banks/${name}.json`);
      expect(bank.name).toBe(name);
      expect(bankPhrases(bank).length).toBe(n);
    }
    const world = parseBank(readFileSync('data/banks/world.json', 'utf8'));
    expect(bankPhrases(world).filter((p) => p.group === null).length).toBe(45);
    expect(bankPhrases(world)[0]).toEqual({ phrase: 'neutral', group: 'smiling' });
  });

  it('templates fill and strip', () => {
    expect(fillTemplate('a face with {}', 'glasses')).toBe('a face with glasses');
    expect(bareTemplate('a face with {}')).toBe('a face with');
    expect(bareTemplate('a toy face, {}')).toBe('a toy face');
    expect(bareTemplate('{}')).toBe('');
  });

  it('an attribute list becomes a bank; bad banks are named with what is wrong', () => {
    expect(bankPhrases(bankFromList(' glasses, hat ,'))).toEqual([{ phrase: 'glasses', group: 'glasses' }, { phrase: 'hat', group: 'hat' }]);
    expect(() => bankFromList(' , ')).toThrow(/no attribute names/);
    expect(() => parseBank('{', 'b.json')).toThrow(/bank b.json: is not JSON/);
    expect(() => parseBank('[]', 'b.json')).toThrow(/must be one JSON object/);
    expect(() => parseBank('{"name":"x","groups":{"a":["p"],"b":["p"]}}', 'b.json')).toThrow(/phrase "p" is in both "a" and "b"/);
    expect(() => parseBank('{"name":"x","templates":["no slot"],"groups":{"a":["p"]}}')).toThrow(/exactly one \{\}/);
    expect(() => parseBank('{"name":"x","groups":{"a":[3]}}')).toThrow(/group "a" must be a list of non-empty strings/);
    expect(() => parseBank('{"name":"x","groups":{"a":["p"]},"distractors":["p"]}')).toThrow(/distractor "p" is also in group "a"/);
    expect(() => parseBank('{"name":"x","groups":{}}')).toThrow(/has no phrases/);
  });
});
