// CLIP's byte-level BPE tokenizer (openai/CLIP simple_tokenizer; HF CLIPTokenizer), browser-safe.

export const CLIP_CONTEXT_LENGTH = 77;
const SOT = '<|startoftext|>';
const EOT = '<|endoftext|>';
const WORD_PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/giu;

/** GPT-2's reversible byte → printable-character map, in its dict order (printable bytes first). */
function bytesToUnicode(): { byByte: string[]; ordered: string[] } {
  const bs: number[] = [];
  const add = (a: number, b: number) => { for (let i = a; i <= b; i++) bs.push(i); };
  add(0x21, 0x7e);
  add(0xa1, 0xac);
  add(0xae, 0xff);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const byByte = new Array<string>(256);
  bs.forEach((b, i) => { byByte[b] = String.fromCodePoint(cs[i]); });
  return { byByte, ordered: cs.map((c) => String.fromCodePoint(c)) };
}
const { byByte: BYTE_CHARS, ordered: VOCAB_BASE } = bytesToUnicode();

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', copy: '©', reg: '®', hellip: '…', mdash: '—', ndash: '–',
};

/** html.unescape for the entities that occur in captions: named basics and numeric references. */
function htmlUnescape(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? m;
  });
}

/**
 * The part of ftfy.fix_text that matters for captions: Latin ligatures and full-/half-width forms
 * folded by NFKC, curly quotes straightened, then NFC.
 */
function fixText(s: string): string {
  return s
    .replace(/[\ufb00-\ufb06\uff00-\uffef\u3000]/g, (c) => c.normalize('NFKC'))
    .replace(/[\u2018\u2019\u201a\u201b]/g, "'")
    .replace(/[\u201c\u201d\u201e\u201f]/g, '"')
    .normalize('NFC');
}

export function cleanText(text: string): string {
  const basic = htmlUnescape(htmlUnescape(fixText(text))).trim();
  return basic.replace(/\s+/g, ' ').trim().toLowerCase();
}

export interface TokenizeOptions {
  contextLength?: number;
  /** Cut long texts to contextLength with EOT last (clip.tokenize(truncate=True)); otherwise throw. */
  truncate?: boolean;
  /** Zero-pad to contextLength (default true). */
  pad?: boolean;
}

export class CLIPTokenizer {
  private readonly encoder: Map<string, number>;
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, string[]>();
  readonly sotId: number;
  readonly eotId: number;
  /** What a piece missing from the vocabulary becomes: HF CLIPTokenizer's unk_token, <|endoftext|>. */
  readonly unkId: number;

  /** From HF layout: vocab.json (token → id) and merges.txt. */
  constructor(vocab: Record<string, number>, merges: string[]) {
    this.encoder = new Map(Object.entries(vocab));
    this.ranks = new Map(merges.map((m, i) => [m, i]));
    const sot = this.encoder.get(SOT);
    const eot = this.encoder.get(EOT);
    if (sot === undefined || eot === undefined) throw new Error('cflens: CLIPTokenizer: the vocabulary has no <|startoftext|> / <|endoftext|> tokens');
    this.sotId = sot;
    this.eotId = eot;
    this.unkId = eot;
  }

  static fromHF(vocabJson: string, mergesTxt: string): CLIPTokenizer {
    const merges = mergesTxt.split('\n').filter((l, i) => l && !(i === 0 && l.startsWith('#version')));
    return new CLIPTokenizer(JSON.parse(vocabJson), merges);
  }

  /** From OpenAI's bpe_simple_vocab_16e6.txt (already gunzipped). */
  static fromBpeText(bpe: string): CLIPTokenizer {
    const lines = bpe.split('\n');
    return CLIPTokenizer.fromMerges(lines.slice(1, 49152 - 256 - 2 + 1));
  }

  /** CLIP's vocabulary layout from a merges list: 256 byte characters, the same with </w>, one token per merge, SOT, EOT. */
  static fromMerges(merges: readonly string[]): CLIPTokenizer {
    const vocab = [...VOCAB_BASE, ...VOCAB_BASE.map((c) => `${c}</w>`), ...merges.map((m) => m.split(' ').join('')), SOT, EOT];
    return new CLIPTokenizer(Object.fromEntries(vocab.map((t, i) => [t, i])), [...merges]);
  }

  /** vocab.json and merges.txt (HF layout) of this tokenizer. */
  toHF(): { vocabJson: string; mergesTxt: string } {
    const merges = [...this.ranks.entries()].sort((a, b) => a[1] - b[1]).map(([m]) => m);
    return { vocabJson: JSON.stringify(Object.fromEntries(this.encoder)), mergesTxt: `#version: 0.2\n${merges.join('\n')}\n` };
  }

  /** From the gzipped bpe_simple_vocab_16e6.txt.gz bytes (DecompressionStream: Node ≥ 18 and browsers). */
  static async fromBpeGzip(bytes: Uint8Array): Promise<CLIPTokenizer> {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return CLIPTokenizer.fromBpeText(await new Response(stream).text());
  }

  get vocabSize(): number { return this.encoder.size; }

  private bpe(token: string): string[] {
    const hit = this.cache.get(token);
    if (hit) return hit;
    let word = [...token];
    word[word.length - 1] += '</w>';
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const [a, b] = [word[best], word[best + 1]];
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i < word.length - 1 && word[i] === a && word[i + 1] === b) {
          merged.push(a + b);
          i++;
        } else merged.push(word[i]);
      }
      word = merged;
    }
    this.cache.set(token, word);
    return word;
  }

  /** BPE ids of the cleaned text, without start/end tokens. */
  encode(text: string): number[] {
    const ids: number[] = [];
    const utf8 = new TextEncoder();
    for (const m of cleanText(text).matchAll(WORD_PATTERN)) {
      const mapped = Array.from(utf8.encode(m[0]), (b) => BYTE_CHARS[b]).join('');
      // A vocabulary that lacks a merge's result or a byte (never CLIP's own) gives the unknown token, as HF's does.
      for (const piece of this.bpe(mapped)) ids.push(this.encoder.get(piece) ?? this.unkId);
    }
    return ids;
  }

  /** [SOT, ...ids, EOT], truncated/padded like clip.tokenize. */
  tokenize(text: string, { contextLength = CLIP_CONTEXT_LENGTH, truncate = true, pad = true }: TokenizeOptions = {}): number[] {
    let ids = [this.sotId, ...this.encode(text), this.eotId];
    if (ids.length > contextLength) {
      if (!truncate) throw new Error(`cflens: CLIPTokenizer: '${text.slice(0, 40)}…' has ${ids.length} tokens, more than the context length ${contextLength}`);
      ids = ids.slice(0, contextLength);
      ids[contextLength - 1] = this.eotId;
    }
    if (pad) while (ids.length < contextLength) ids.push(0);
    return ids;
  }

  decode(ids: readonly number[]): string {
    const decoder = new Map([...this.encoder].map(([t, i]) => [i, t]));
    const byteOf = new Map(BYTE_CHARS.map((c, b) => [c, b]));
    const text = ids.filter((i) => i !== this.sotId && i !== this.eotId && i !== 0).map((i) => decoder.get(i) ?? '').join('');
    const bytes = Uint8Array.from([...text.replace(/<\/w>/g, ' ')].map((c) => (c === ' ' ? 0x20 : byteOf.get(c) ?? 0x3f)));
    return new TextDecoder().decode(bytes).trim();
  }
}

/**
 * Learns CLIP-style byte-level BPE merges from texts (cleaned and split as the tokenizer does; the last
 * character of each word carries </w>): repeatedly merges the most frequent adjacent pair, ties broken
 * by the pair's text, until `numMerges` merges or no pair occurs twice.
 */
export function learnClipBpe(texts: Iterable<string>, numMerges: number): string[] {
  const utf8 = new TextEncoder();
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const m of cleanText(text).matchAll(WORD_PATTERN)) {
      const w = Array.from(utf8.encode(m[0]), (b) => BYTE_CHARS[b]).join('');
      counts.set(w, (counts.get(w) ?? 0) + 1);
    }
  }
  const words = [...counts].map(([w, n]) => {
    const sym = [...w];
    sym[sym.length - 1] += '</w>';
    return { sym, n };
  });
  const merges: string[] = [];
  while (merges.length < numMerges) {
    const pairs = new Map<string, number>();
    for (const { sym, n } of words) for (let i = 0; i < sym.length - 1; i++) {
      const k = `${sym[i]} ${sym[i + 1]}`;
      pairs.set(k, (pairs.get(k) ?? 0) + n);
    }
    let best = '';
    let bestN = 1;
    for (const [k, n] of pairs) if (n > bestN || (n === bestN && best && k < best)) { best = k; bestN = n; }
    if (!best) break;
    merges.push(best);
    const [a, b] = best.split(' ');
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.sym.length; i++) {
        if (i < w.sym.length - 1 && w.sym[i] === a && w.sym[i + 1] === b) { out.push(a + b); i++; } else out.push(w.sym[i]);
      }
      w.sym = out;
    }
  }
  return merges;
}
