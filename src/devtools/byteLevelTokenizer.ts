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

/** Options of {@link buildByteLevelTokenizer}. */
export interface ByteLevelTokenizerOptions {
  /** Special tokens appended after the merges (e.g. `<|endoftext|>`), as `added_tokens`. */
  readonly specialTokens?: readonly string[];
}

/**
 * Learns `numMerges` merges from `corpus` by plain BPE over pre-tokenised words: each step merges the most
 * frequent adjacent pair (ties: the smallest `a b` string; pairs seen once are never merged), left to right
 * within a word. Pair counts are kept incrementally (only the words holding the merged pair are re-counted), so
 * a corpus of millions of words trains in seconds. Returns the tokenizer.json object (ids: bytes first, then
 * merges, then special tokens).
 */
export function buildByteLevelTokenizer(corpus: string, numMerges: number, options: ByteLevelTokenizerOptions = {}): object {
  const b2u = bytesToUnicode();
  const encoder = new TextEncoder();
  const wordCounts = new Map<string, number>();
  for (const m of corpus.matchAll(PRETOKEN)) wordCounts.set(m[0], (wordCounts.get(m[0]) ?? 0) + 1);
  // Symbols are ids into `symbols`; a word is its symbol ids (bytes 0..255 first).
  const symbols: string[] = [...b2u];
  const words: { parts: number[]; n: number }[] = [];
  for (const [w, n] of wordCounts) words.push({ parts: Array.from(encoder.encode(w)), n });
  const pairKey = (a: number, b: number): number => a * 0x100000 + b;
  const counts = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const addPairs = (wi: number, sign: 1 | -1): void => {
    const { parts, n } = words[wi]!;
    for (let i = 0; i + 1 < parts.length; i++) {
      const k = pairKey(parts[i]!, parts[i + 1]!);
      counts.set(k, (counts.get(k) ?? 0) + sign * n);
      if (sign > 0) {
        let s = where.get(k);
        if (!s) where.set(k, (s = new Set()));
        s.add(wi);
      }
    }
  };
  words.forEach((_, wi) => addPairs(wi, 1));
  const pairText = (k: number): string => symbols[Math.floor(k / 0x100000)]! + ' ' + symbols[k % 0x100000]!;
  // Max-heap of [count, key] with lazy deletion: an entry whose count is stale is dropped when popped.
  const heap: [number, number, string][] = [];
  const better = (x: [number, number, string], y: [number, number, string]): boolean => x[0] > y[0] || (x[0] === y[0] && x[2] < y[2]);
  const push = (e: [number, number, string]): void => {
    heap.push(e);
    for (let i = heap.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!better(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const pop = (): [number, number, string] | undefined => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && better(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && better(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  };
  for (const [k, n] of counts) if (n > 1) push([n, k, pairText(k)]);
  const vocab = new Map<string, number>();
  b2u.forEach((ch, b) => vocab.set(ch, b));
  const merges: string[] = [];
  while (merges.length < numMerges) {
    const e = pop();
    if (!e) break;
    const [n, k] = e;
    if (counts.get(k) !== n) continue; // stale
    const a = Math.floor(k / 0x100000);
    const b = k % 0x100000;
    const merged = symbols.length;
    symbols.push(symbols[a]! + symbols[b]!);
    merges.push(e[2]);
    vocab.set(symbols[merged]!, vocab.size);
    const touched = new Set<number>();
    for (const wi of where.get(k) ?? []) {
      const w = words[wi]!;
      let has = false;
      for (let i = 0; i + 1 < w.parts.length; i++) if (w.parts[i] === a && w.parts[i + 1] === b) has = true;
      if (!has) continue;
      for (let i = 0; i + 1 < w.parts.length; i++) touched.add(pairKey(w.parts[i]!, w.parts[i + 1]!));
      addPairs(wi, -1);
      const next: number[] = [];
      for (let i = 0; i < w.parts.length; i++) {
        if (i + 1 < w.parts.length && w.parts[i] === a && w.parts[i + 1] === b) {
          next.push(merged);
          i++;
        } else next.push(w.parts[i]!);
      }
      w.parts = next;
      addPairs(wi, 1);
      for (let i = 0; i + 1 < next.length; i++) touched.add(pairKey(next[i]!, next[i + 1]!));
    }
    where.delete(k);
    counts.delete(k);
    for (const t of touched) {
      if (t === k) continue;
      const c = counts.get(t) ?? 0;
      if (c > 1) push([c, t, pairText(t)]);
    }
  }
  const added = (options.specialTokens ?? []).map((content) => {
    const id = vocab.size;
    vocab.set(content, id);
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  });
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: Object.fromEntries(vocab), merges },
  };
}
