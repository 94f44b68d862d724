// Builds a byte-level BPE tokenizer.json (GPT-2 byte alphabet, like Llama 3 / Qwen / OLMoE) with merges
// learnt from a small corpus by plain BPE, for the models this project generates (demo, benchmark).

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i]!)));
  return out;
}

/** GPT-2's pre-tokenisation regex (what ByteLevel with use_regex applies). */
const PRETOKEN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Learns `numMerges` merges from `corpus`; returns the tokenizer.json object (ids: bytes first, then merges). */
export function buildByteLevelTokenizer(corpus: string, numMerges: number): object {
  const b2u = bytesToUnicode();
  const words = new Map<string, number>();
  for (const m of corpus.matchAll(PRETOKEN)) {
    const w = Array.from(new TextEncoder().encode(m[0]), (b) => b2u[b]!).join('');
    words.set(w, (words.get(w) ?? 0) + 1);
  }
  const split = [...words].map(([w, n]) => ({ parts: Array.from(w), n }));
  const vocab = new Map<string, number>();
  // Byte tokens get ids 0..255 by byte value.
  b2u.forEach((ch, b) => vocab.set(ch, b));
  const merges: string[] = [];
  while (merges.length < numMerges) {
    const counts = new Map<string, number>();
    for (const { parts, n } of split) for (let i = 0; i + 1 < parts.length; i++) counts.set(parts[i] + ' ' + parts[i + 1], (counts.get(parts[i] + ' ' + parts[i + 1]) ?? 0) + n);
    let best = '';
    let bestN = 1;
    for (const [pair, n] of counts) if (n > bestN || (n === bestN && best !== '' && pair < best)) [best, bestN] = [pair, n];
    if (best === '') break;
    const [a, b] = best.split(' ') as [string, string];
    merges.push(best);
    vocab.set(a + b, vocab.size);
    for (const w of split) {
      const next: string[] = [];
      for (let i = 0; i < w.parts.length; i++) {
        if (i + 1 < w.parts.length && w.parts[i] === a && w.parts[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(w.parts[i]!);
      }
      w.parts = next;
    }
  }
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: Object.fromEntries(vocab), merges },
  };
}
