// The byte-level BPE trainer (src/devtools/byteLevelTokenizer.ts) that made the demo model's tokenizer:
// its incremental pair counts give exactly the merges of plain BPE (recounting every pair at every step,
// written out here as the reference), and the tokenizer.json it writes loads in the engine's tokenizer and
// round-trips text.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { buildByteLevelTokenizer, bytesToUnicode } from '../../src/devtools/byteLevelTokenizer';
import { loadTokenizer } from '../../src/engine/tokenizer/tokenizer';

const PRETOKEN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Plain BPE: count every adjacent pair anew each step, merge the most frequent (ties: smallest "a b"; never a pair seen once). */
function referenceMerges(corpus: string, numMerges: number): string[] {
  const b2u = bytesToUnicode();
  const words = new Map<string, number>();
  for (const m of corpus.matchAll(PRETOKEN)) {
    const w = Array.from(new TextEncoder().encode(m[0]), (b) => b2u[b]!).join('');
    words.set(w, (words.get(w) ?? 0) + 1);
  }
  const split = [...words].map(([w, n]) => ({ parts: Array.from(w), n }));
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
  return merges;
}

const corpus = [
  'The router sends every token to two experts; the experts that see a token decide what it becomes.',
  'Der Router schickt jedes Wort an zwei Experten. Die Experten entscheiden, was daraus wird — größtenteils.',
  'def route(x):\n    return softmax(x @ w.T).topk(2)\n\n    # aaaa aaaa aaaa\n',
  '{"experts": [0, 1, 2, 3], "topK": 2, "name": "ñandú 世界 🙂"}\n',
  'aaaaaaaa bbbbbbbb aaaabbbb abababab',
].join('\n');

describe('byte-level BPE trainer', () => {
  it('learns exactly the merges of plain BPE, for small and exhausting merge counts', () => {
    for (const n of [0, 1, 20, 150, 100000]) {
      const tok = buildByteLevelTokenizer(corpus, n) as { model: { merges: string[]; vocab: Record<string, number> } };
      const want = referenceMerges(corpus, n);
      assert.deepEqual(tok.model.merges, want, `${n} merges`);
      assert.equal(Object.keys(tok.model.vocab).length, 256 + want.length);
    }
  });

  it('appends special tokens after the merges, and the engine loads the file and round-trips text', () => {
    const tok = buildByteLevelTokenizer(corpus, 120, { specialTokens: ['<|endoftext|>'] }) as { model: { vocab: Record<string, number> }; added_tokens: { id: number; content: string; special: boolean }[] };
    const merges = referenceMerges(corpus, 120).length;
    assert.deepEqual(tok.added_tokens.map((t) => [t.id, t.content, t.special]), [[256 + merges, '<|endoftext|>', true]]);
    assert.equal(tok.model.vocab['<|endoftext|>'], 256 + merges);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpe-'));
    try {
      fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tok));
      const t = loadTokenizer(dir);
      assert.equal(t.vocabSize, 256 + merges + 1);
      for (const text of [corpus, 'unseen words: Quark, Spätzle, 12345.\n\t\tindent', '<|endoftext|>']) {
        const spans = t.encode(text);
        assert.equal(t.decode(spans.map((s) => s.id)), text);
      }
      assert.deepEqual(t.encode('<|endoftext|>').map((s) => s.id), [256 + merges]);
      assert.ok(t.encode(corpus).length < new TextEncoder().encode(corpus).length / 1.5, 'the merges compress the text they were learnt on');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
