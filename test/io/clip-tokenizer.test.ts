import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLIPTokenizer, cleanText } from '../../src/io/clip-tokenizer.js';
import { loadClipTokenizer } from '../../src/io/node/clip-tokenizer-files.js';

// OpenAI's vocabulary files are read in place from ../shared (CI always has it); never copied.
const dir = new URL('../../../shared/fixtures/tokenizer/', import.meta.url).pathname;
if (!existsSync(dir)) throw new Error(`CLIP tokenizer files not found at ${dir}: the tests need ../shared/fixtures/tokenizer beside the repo`);
const cases = JSON.parse(readFileSync(`${dir}tokenizer_cases.json`, 'utf8')) as { cases: Array<{ text: string; ids: number[]; padded: number[] }> };

describe('CLIPTokenizer', async () => {
  const hf = await loadClipTokenizer(dir.replace(/\/$/, ''));
  const gz = await loadClipTokenizer(`${dir}bpe_simple_vocab_16e6.txt.gz`);

  it('has 49408 tokens with SOT 49406 and EOT 49407 from both file layouts', () => {
    for (const t of [hf, gz]) {
      expect(t.vocabSize).toBe(49408);
      expect(t.sotId).toBe(49406);
      expect(t.eotId).toBe(49407);
    }
  });

  it.each(cases.cases.map((c) => [c.text, c]))('tokenizes %j like clip.tokenize', (_, c) => {
    expect(hf.tokenize(c.text, { pad: false })).toEqual(c.ids);
    expect(hf.tokenize(c.text)).toEqual(c.padded);
    expect(gz.tokenize(c.text)).toEqual(c.padded);
  });

  it('refuses overlong text when truncation is off', () => {
    const long = 'word '.repeat(100);
    expect(() => hf.tokenize(long, { truncate: false })).toThrow(/more than the context length 77/);
  });

  it('decodes back to cleaned text', () => {
    expect(hf.decode(hf.tokenize('A Face with glasses, smiling!'))).toBe('a face with glasses , smiling !');
    expect(cleanText('&amp;amp; ﬁne ‘x’')).toBe("& fine 'x'");
  });

  it('maps a piece missing from the vocabulary to the unknown token <|endoftext|> (49407), as HF CLIPTokenizer does', async () => {
    expect(hf.unkId).toBe(49407);
    // A tiny vocabulary whose second merge makes 'abc</w>', which it lacks, and which has no 'z</w>'.
    // Expected ids from transformers 4.57's (slow, Python) CLIPTokenizer on these two files.
    const tiny = mkdtempSync(join(tmpdir(), 'cflens-vocab-'));
    writeFileSync(
      join(tiny, 'vocab.json'),
      JSON.stringify({ a: 0, b: 1, c: 2, 'a</w>': 3, 'b</w>': 4, 'c</w>': 5, ab: 6, '<|startoftext|>': 7, '<|endoftext|>': 8 }),
    );
    writeFileSync(join(tiny, 'merges.txt'), '#version: 0.2\na b\nab c</w>\n');
    const t = await loadClipTokenizer(tiny);
    expect(t.unkId).toBe(8);
    const reference: Array<[string, number[]]> = [
      ['abc', [7, 8, 8]],
      ['ab ba', [7, 0, 4, 1, 3, 8]],
      ['abz', [7, 6, 8, 8]],
      ['cab', [7, 2, 0, 4, 8]],
      ['abc cab z', [7, 8, 2, 0, 4, 8, 8]],
    ];
    for (const [text, ids] of reference) expect(t.tokenize(text, { pad: false }), text).toEqual(ids);
    expect(t.tokenize('abc', { contextLength: 5 })).toEqual([7, 8, 8, 0, 0]);
  });

  it('names a missing folder', async () => {
    await expect(loadClipTokenizer('/nonexistent')).rejects.toThrow(/no CLIP tokenizer files in \/nonexistent/);
    expect(() => new CLIPTokenizer({ a: 0 }, [])).toThrow(/startoftext/);
  });
});
