import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLIPTokenizer } from '../clip-tokenizer.js';

/**
 * Loads a CLIP tokenizer from a folder holding vocab.json + merges.txt (HF layout) or
 * bpe_simple_vocab_16e6.txt.gz (openai/CLIP), or from the .gz file itself.
 */
export async function loadClipTokenizer(path: string): Promise<CLIPTokenizer> {
  if (path.endsWith('.gz')) return CLIPTokenizer.fromBpeGzip(readFileSync(path));
  const vocab = join(path, 'vocab.json');
  const merges = join(path, 'merges.txt');
  if (existsSync(vocab) && existsSync(merges)) return CLIPTokenizer.fromHF(readFileSync(vocab, 'utf8'), readFileSync(merges, 'utf8'));
  const gz = join(path, 'bpe_simple_vocab_16e6.txt.gz');
  if (existsSync(gz)) return CLIPTokenizer.fromBpeGzip(readFileSync(gz));
  throw new Error(`cflens: no CLIP tokenizer files in ${path}: need vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz`);
}
