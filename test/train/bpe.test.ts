import { describe, expect, it } from 'vitest';
import { CLIPTokenizer, learnClipBpe } from '../../src/io/clip-tokenizer.js';
import { worldTokenizer } from '../../src/train/tasks.js';
import { Rng, caption, sampleAttributes } from '../../src/world/index.js';

describe('learnClipBpe', () => {
  it('merges the most frequent pair first and stops when no pair repeats', () => {
    const merges = learnClipBpe(['low low low lower', 'newest newest'], 100);
    expect(merges[0]).toBe('l o');
    // every merge joins two symbols that exist by then, so the vocabulary builds and round-trips
    const tok = CLIPTokenizer.fromMerges(merges);
    expect(tok.decode(tok.tokenize('low lower newest'))).toBe('low lower newest');
    expect(tok.encode('low')).toHaveLength(1);
  });

  it('the world tokenizer encodes every caption in few tokens and round-trips through vocab.json/merges.txt', () => {
    const tok = worldTokenizer(108);
    const { vocabJson, mergesTxt } = tok.toHF();
    const again = CLIPTokenizer.fromHF(vocabJson, mergesTxt);
    const rng = new Rng(5);
    for (let i = 0; i < 50; i++) {
      const text = caption(sampleAttributes(rng));
      const ids = tok.encode(text);
      expect(again.encode(text)).toEqual(ids);
      expect(tok.decode(ids).replace(/ ,/g, ',')).toBe(text);
      expect(ids.length).toBeLessThan(40);
    }
    const merges = mergesTxt.trim().split('\n').length - 1;
    expect(merges).toBeGreaterThan(50);
    expect(tok.vocabSize).toBe(512 + merges + 2);
  });
});
