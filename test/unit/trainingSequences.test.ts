// Fine-tuning data: packing into --seq-len sequences, chat records trained on the assistant turns only,
// no target across a document boundary, budgets and bad input. Real tokenizer (a fixture's tokenizer.json).
// Run: node --import tsx --test test/unit/trainingSequences.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { packTrainingData } from '../../src/engine/finetune/trainingSequences';
import { loadTokenizer } from '../../src/engine/tokenizer/tokenizer';
import { fixture } from '../support/paths';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-train-data-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const tok = loadTokenizer(fixture('mixtral'));
const write = (name: string, text: string): string => {
  const p = path.join(root, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
  return p;
};

describe('packTrainingData', () => {
  test('documents are concatenated in order and cut into seqLen pieces; a document start is never a target', () => {
    const a = 'The quick brown fox jumps over the lazy dog. '.repeat(3);
    const b = 'def add(a, b):\n    return a + b\n';
    const dir = path.join(root, 'plain');
    write('plain/a.txt', a);
    write('plain/b.py', b);
    const ta = tok.encode(a).map((t) => t.id);
    const tb = tok.encode(b).map((t) => t.id);
    const packed = packTrainingData(tok, readCalibrationSet([dir]), 16);
    const all = [...ta, ...tb];
    assert.deepEqual(packed.sequences.flatMap((s) => s.ids), all.length % 16 === 1 ? all.slice(0, -1) : all);
    assert.ok(packed.sequences.slice(0, -1).every((s) => s.ids.length === 16));
    // Every target trained except b's first token (a document start inside a sequence) and ta[0] (never a target).
    const masks = packed.sequences.flatMap((s) => [0, ...s.lossMask]);
    const masked = masks.flatMap((m, i) => (m === 0 ? [i] : []));
    const startsOfSequences = packed.sequences.map((_, i) => i * 16);
    assert.deepEqual(masked.filter((i) => !startsOfSequences.includes(i)), ta.length % 16 === 0 ? [] : [ta.length]);
    assert.equal(packed.trainedTargets, masks.filter((m) => m === 1).length);
    assert.equal(packed.chatRecords, 0);
    assert.equal(packed.truncated, false);
  });

  test('chat records train on the assistant content only; the prompt and role labels are masked', () => {
    const rec = { messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'What is two plus two?' }, { role: 'assistant', content: 'Four, the answer is four.' }, { role: 'user', content: 'Thanks' }] };
    const file = write('chat/c.jsonl', `${JSON.stringify(rec)}\n`);
    const data = readCalibrationSet([file]);
    const text = data.documents[0]!.text;
    const spans = tok.encode(text);
    const packed = packTrainingData(tok, data, 512);
    assert.equal(packed.chatRecords, 1);
    const [seq] = packed.sequences;
    const trainedText = spans.slice(1).filter((_, i) => seq!.lossMask[i] === 1).map((t) => text.slice(t.start, t.end)).join('');
    const content = 'Four, the answer is four.';
    const at = text.indexOf(content);
    // Trained tokens cover exactly the assistant content (a token straddling its edge may bring a space or a colon).
    assert.ok(trainedText.includes('Four, the answer is four'), trainedText);
    for (const [i, t] of spans.slice(1).entries()) {
      if (seq!.lossMask[i] === 1) assert.ok(t.start < at + content.length && t.end > at, `trained token ${JSON.stringify(t.text)} lies outside the assistant turn`);
    }
    assert.ok(!trainedText.includes('two plus') && !trainedText.includes('Thanks') && !trainedText.includes('assistant'));
  });

  test('a token budget truncates, and says so', () => {
    const file = write('budget/long.txt', 'tokens and more tokens '.repeat(200));
    const packed = packTrainingData(tok, readCalibrationSet([file]), 32, 100);
    assert.equal(packed.tokens, 100);
    assert.equal(packed.truncated, true);
    assert.deepEqual(packed.sequences.map((s) => s.ids.length), [32, 32, 32, 4]);
  });

  test('bad input is refused, naming the file, record or value', () => {
    const noAssistant = write('bad/noassist.jsonl', `${JSON.stringify({ text: 'fine' })}\n${JSON.stringify({ messages: [{ role: 'user', content: 'hello?' }] })}\n`);
    assert.throws(() => packTrainingData(tok, readCalibrationSet([noAssistant]), 64), (e: Error) => e.message.includes(`${noAssistant}:2: a chat record with no assistant turn`));
    const tiny = write('bad/tiny.txt', 'a');
    assert.throws(() => packTrainingData(tok, readCalibrationSet([tiny]), 64), /at least 2 are needed/);
    assert.throws(() => packTrainingData(tok, readCalibrationSet([tiny]), 1), /--seq-len must be an integer >= 2 \(got 1\)/);
  });
});
