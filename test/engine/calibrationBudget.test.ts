// A calibration budget stops reading and tokenising where it is reached (issue #8: a 100 MB file with
// --max-tokens 1000 was tokenised whole first, 7.1 GB and 144 s). The chunks are exactly those of the full
// tokenisation's first tokens; the tokenizer's character counter proves the rest was never tokenised.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { calibrationChunks, tokeniseCalibration } from '../../src/engine/calibration/calibrationChunks';
import { MoeError } from '../../src/protocol/moeError';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { profileExperts } from '../../src/engine/experts/profileExperts';
import { MoeEngine } from '../../src/engine/moeEngine';
import { loadTokenizer } from '../../src/engine/tokenizer/tokenizer';
import { repoRoot } from '../support/paths';

// The demo model's tokenizer has BPE merges, so a prefix cut mid-word really tokenises differently at the cut.
const demoModel = path.join(repoRoot, 'media', 'demo-model');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-budget-'));

/** A 64 KiB block of varied text (words, punctuation, digits, non-ASCII), deterministic. */
function block(): string {
  const words = ['the', 'router', 'sends', 'each', 'token', 'to', 'two', 'experts,', 'and', 'théir', 'outputs', 'are', 'summed.', '12345', 'naïve', 'ok\n', '日本語', 'x=1;', '  ', '🙂'];
  let a = 7;
  let s = '';
  while (s.length < 64 * 1024) {
    a = (a * 1103515245 + 12345) % 2 ** 31;
    s += words[a % words.length] + (a % 3 === 0 ? '' : ' ');
  }
  return s;
}

describe('calibration budget: stop reading and tokenising at --max-tokens', () => {
  const text = block();
  const big = path.join(root, 'big.txt');
  const small = path.join(root, 'small.txt');
  before(() => {
    fs.writeFileSync(small, text);
    const fd = fs.openSync(big, 'w');
    for (let i = 0; i < 480; i++) fs.writeSync(fd, text); // ~30 MB of characters
    fs.closeSync(fd);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('encodeHead gives exactly the first tokens of the full tokenisation, for any budget', () => {
    const tok = loadTokenizer(demoModel);
    const full = tok.encode(text);
    for (const k of [1, 2, 17, 500, 1000, 4096, full.length - 1, full.length, full.length + 5]) {
      const head = tok.encodeHead(text, k);
      assert.deepEqual(head.tokens, full.slice(0, k), `budget ${k}`);
      assert.equal(head.complete, k >= full.length, `budget ${k}`);
    }
  });

  it('a ~30 MB file with max-tokens 1000 yields the first 1000 tokens\' chunks and tokenises only a prefix', () => {
    const tok = loadTokenizer(demoModel);
    const set = readCalibrationSet([big]);
    assert.ok(set.characters >= 30_000_000, `${set.characters} characters`);
    const bytes = fs.readFileSync(big);
    const identity = createHash('sha256').update(big).update('\0').update(bytes).update('\0').digest('hex');
    assert.equal(set.sha256, identity, 'the data identity is the sha256 of path and bytes, as before');

    const expected = calibrationChunks(tok, readCalibrationSet([small]), 128).chunks.map((c) => c.spans);
    const flat = expected.flat().slice(0, 1000);
    const before = tok.charactersTokenized;
    const got = calibrationChunks(tok, set, 128, 1000);
    const handed = tok.charactersTokenized - before;
    assert.equal(got.tokens, 1000);
    assert.equal(got.truncated, true);
    assert.deepEqual(got.chunks.map((c) => c.spans).flat(), flat, 'the same tokens as the full tokenisation of the same text');
    assert.deepEqual(got.chunks.map((c) => c.spans.length), [128, 128, 128, 128, 128, 128, 128, 104]);
    assert.ok(handed < 100_000, `${handed} characters of ${set.characters} were handed to the tokenizer`);
  });

  it('a .jsonl set: records past the budget are not tokenised', () => {
    const tok = loadTokenizer(demoModel);
    const file = path.join(root, 'many.jsonl');
    const lines = Array.from({ length: 20000 }, (_, i) => JSON.stringify(i % 2 ? { text: `record ${i}: ${text.slice(i, i + 200)}` } : { messages: [{ role: 'user', content: `question ${i}` }, { role: 'assistant', content: text.slice(i, i + 150) }] }));
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const set = readCalibrationSet([file]);
    assert.equal(set.documents.length, 20000);
    const before = tok.charactersTokenized;
    const got = calibrationChunks(tok, set, 64, 1000);
    assert.equal(got.tokens, 1000);
    assert.ok(tok.charactersTokenized - before < 20_000, `${tok.charactersTokenized - before} characters tokenised`);
    const all = set.documents.slice(0, got.chunks.at(-1)!.doc + 1).flatMap((d, i) => calibrationChunks(tok, { ...set, documents: [d] }, 64).chunks.map((c) => ({ ...c, doc: i })));
    assert.deepEqual(got.chunks.slice(0, -1), all.slice(0, got.chunks.length - 1), 'whole documents chunk as before');
  });

  it('profiling a ~30 MB file with maxTokens 1000 profiles exactly 1000 tokens of it', async () => {
    const engine = await MoeEngine.load(demoModel);
    try {
      const before = engine.tokenizer.charactersTokenized;
      const profile = await profileExperts(engine, readCalibrationSet([big]), { chunkTokens: 256, maxTokens: 1000 });
      assert.equal(profile.data.tokens, 1000);
      assert.equal(profile.data.truncated, true);
      assert.equal(profile.data.chunks, 4);
      assert.ok(engine.tokenizer.charactersTokenized - before < 100_000);
    } finally {
      await engine.dispose();
    }
  });
});

describe('tokenising a large calibration set for a job', () => {
  it('reports progress and lets a cancel through before the first forward', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-tokenise-progress-'));
    try {
      const line = 'Experts are chosen per token by the router; this sentence is calibration data. ';
      for (let i = 0; i < 120; i++) fs.writeFileSync(path.join(root, `doc${i}.txt`), line.repeat(100));
      const tok = loadTokenizer(demoModel);
      const set = readCalibrationSet([root]);
      const seen: string[] = [];
      const all = await tokeniseCalibration(tok, set, 256, Infinity, { onProgress: (p) => seen.push(`${p.stage}:${p.total}:${p.message ?? ''}`) });
      assert.deepEqual(all, calibrationChunks(tok, set, 256), 'the same chunks as the synchronous version');
      assert.ok(seen.length > 0, 'progress while tokenising');
      assert.match(seen[0]!, /^tokenise:0:\d+ \/ 120 documents, [\d,]+ tokens so far$/);
      const ac = new AbortController();
      await assert.rejects(
        tokeniseCalibration(tok, set, 256, Infinity, { signal: ac.signal, onProgress: () => ac.abort() }),
        (e: unknown) => e instanceof MoeError && e.code === 'E_CANCELLED',
      );
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
