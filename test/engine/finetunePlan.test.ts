// The finetune preview (finetunePlan) on real checkpoints: its data figures equal packTrainingData's after
// the held-out split, its ESFT scores and selection equal esftPlan's on the same training sequences, its
// parameter counts add up, the preview shows the chat mask, --train specs (a long experts= list among them)
// give what they name, and bad input is refused as finetune refuses it.
// Run: node --import tsx --test test/engine/finetunePlan.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { esftPlan } from '../../src/engine/finetune/esftPlan';
import { finetunePlan } from '../../src/engine/finetune/finetunePlan';
import { packTrainingData } from '../../src/engine/finetune/trainingSequences';
import { MoeEngine } from '../../src/engine/moeEngine';
import { fixture } from '../support/paths';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-finetune-plan-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const data = path.join(tmp, 'data');
fs.mkdirSync(data);
// Sorted first, so the first training sequence starts with a chat record.
fs.writeFileSync(path.join(data, 'a-chat.jsonl'), Array.from({ length: 8 }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `say hi ${i}` }, { role: 'assistant', content: `hi there number ${i}, friend` }] })).join('\n') + '\n');
fs.writeFileSync(path.join(data, 'b-prose.txt'), 'The quick brown fox jumps over the lazy dog. '.repeat(20));
const ctx = { signal: new AbortController().signal };

describe('finetunePlan', () => {
  test('qwen2_moe, default ESFT-Token: data figures after the split, scores and selection as esftPlan, counts, chat mask in the preview', async () => {
    const engine = await MoeEngine.load(fixture('qwen2_moe'));
    try {
      const seqLen = 32;
      const plan = await finetunePlan(engine, { data: [data], seqLen, previewTokens: 40 }, ctx);
      const packed = packTrainingData(engine.tokenizer, readCalibrationSet([data]), seqLen);
      assert.ok(packed.sequences.length >= 10, `${packed.sequences.length} sequences`);
      const train = packed.sequences.filter((_, i) => i % 10 !== 9);
      assert.equal(plan.seqLen, seqLen);
      assert.deepEqual(plan.files, [path.join(data, 'a-chat.jsonl'), path.join(data, 'b-prose.txt')]);
      assert.equal(plan.sequences, train.length);
      assert.equal(plan.tokens, train.reduce((n, q) => n + q.ids.length, 0));
      assert.equal(plan.trainedTargets, train.reduce((n, q) => n + q.lossMask.reduce((a, b) => a + b, 0), 0));
      assert.equal(plan.chatRecords, 8);
      assert.equal(plan.heldOut, `every 10th training sequence (${packed.sequences.length - train.length} of ${packed.sequences.length})`);

      const esft = await esftPlan(
        engine,
        train.map((q) => q.ids),
        'esft-token',
        0.2,
      );
      assert.equal(plan.selection?.method, 'esft-token');
      assert.equal(plan.selection?.threshold, 0.2);
      assert.deepEqual(
        plan.selection?.layers.map((l) => l.layer),
        esft.scores.map((s) => s.layer),
      );
      for (const [i, l] of plan.selection!.layers.entries()) {
        assert.deepEqual(l.scores, Array.from(esft.scores[i]!.token));
        assert.deepEqual(l.selected, esft.selection.get(l.layer));
      }
      assert.deepEqual(plan.experts, [0, 1, 2].map((L) => [L, esft.selection.get(L)]));
      assert.deepEqual(plan.tensors, []);
      assert.equal(plan.trainableParameters, esft.parameters.trainable);
      assert.equal(plan.totalParameters, esft.parameters.total);
      assert.equal(plan.otherParameters, 0);
      const perExpert = 3 * 64 * 32;
      assert.deepEqual(plan.expertParameters, [0, 1, 2].map((L) => [L, perExpert]));
      assert.equal(plan.trainableParameters, plan.experts.reduce((n, [, es]) => n + es.length * perExpert, 0));
      assert.equal(plan.numExperts, 8);

      // The preview: the first sequence's first tokens, masked where they are chat prompt (no target; the first
      // token, never a target, with the prompt that follows it).
      const first = train[0]!;
      assert.equal(plan.preview.length, 32);
      assert.deepEqual(
        plan.preview.map((t) => t.text),
        first.ids.map((id) => engine.tokenizer.tokenText(id)),
      );
      assert.deepEqual(
        plan.preview.map((t) => t.masked),
        first.ids.map((_, i) => first.lossMask[i === 0 ? 0 : i - 1] === 0),
      );
      assert.ok(plan.preview.some((t) => t.masked) && plan.preview.some((t) => !t.masked));
      const trainedText = plan.preview.filter((t) => !t.masked).map((t) => t.text).join('');
      assert.match(trainedText, /^hi the/);
      assert.doesNotMatch(trainedText, /say hi/);
      assert.match(plan.preview.filter((t) => t.masked).map((t) => t.text).join(''), /say hi 0/);
      assert.equal((await finetunePlan(engine, { data: [data], seqLen, previewTokens: 5 }, ctx)).preview.length, 5);
    } finally {
      await engine.dispose();
    }
  });

  test('mixtral: --train specs without --select (a long experts= list equals "experts"), the union with --select, refusals', async () => {
    const engine = await MoeEngine.load(fixture('mixtral'));
    try {
      const plan = await finetunePlan(engine, { ids: [5, 6, 7, 8, 9, 10, 11, 12], train: ['routers', 'experts=0:1,1:3,1:0'] }, ctx);
      assert.equal(plan.selection, undefined);
      assert.deepEqual(plan.experts, [
        [0, [1]],
        [1, [0, 3]],
      ]);
      assert.deepEqual(plan.tensors, ['model.layers.0.block_sparse_moe.gate.weight', 'model.layers.1.block_sparse_moe.gate.weight']);
      assert.equal(plan.otherParameters, 2 * 8 * 64);
      assert.deepEqual(plan.expertParameters, [
        [0, 3 * 64 * 64],
        [1, 3 * 64 * 64],
      ]);
      assert.equal(plan.trainableParameters, plan.otherParameters + 3 * 3 * 64 * 64);
      assert.equal(plan.sequences, 1);
      assert.equal(plan.heldOut, 'the training sequence itself (only one sequence was given)');
      assert.equal(plan.files.length, 0);
      assert.ok(plan.preview.every((t) => !t.masked), 'ids: every target trains, and nothing is a prompt');

      // What the VS Code side sends after editing the selection: every expert, listed one by one.
      const every = Array.from({ length: 2 }, (_, L) => Array.from({ length: 8 }, (_, e) => `${L}:${e}`)).flat();
      const listed = await finetunePlan(engine, { ids: [5, 6, 7, 8], train: [`experts=${every.join(',')}`] }, ctx);
      const all = await finetunePlan(engine, { ids: [5, 6, 7, 8], train: ['experts'] }, ctx);
      assert.deepEqual(listed.experts, all.experts);
      assert.equal(listed.trainableParameters, all.trainableParameters);

      const union = await finetunePlan(engine, { data: [data], seqLen: 64, select: 'esft-gate', threshold: 0.1, train: ['experts=1:7'] }, ctx);
      assert.equal(union.selection?.method, 'esft-gate');
      for (const [L, es] of union.experts) {
        const sel: readonly number[] = union.selection!.layers.find((l) => l.layer === L)!.selected;
        assert.deepEqual(es, [...new Set([...sel, ...(L === 1 ? [7] : [])])].sort((a, b) => a - b));
      }

      await assert.rejects(finetunePlan(engine, { data: [data], seqLen: 1 }, ctx), /--seq-len 1 must be an integer from 2 to/);
      await assert.rejects(finetunePlan(engine, { ids: [5, 6], train: ['experts=2:0'] }, ctx), /layer 2 does not exist/);
      await assert.rejects(finetunePlan(engine, { ids: [5, 6], threshold: 1.5 }, ctx), /--threshold must be a number in \(0, 1\]/);
      const empty = path.join(tmp, 'empty.txt');
      fs.writeFileSync(empty, '');
      await assert.rejects(finetunePlan(engine, { data: [empty] }, ctx), /empty\.txt/);
      const noAssistant = path.join(tmp, 'prompt-only.jsonl');
      fs.writeFileSync(noAssistant, JSON.stringify({ messages: [{ role: 'user', content: 'hello' }] }) + '\n');
      await assert.rejects(finetunePlan(engine, { data: [noAssistant] }, ctx), /prompt-only\.jsonl:1: a chat record with no assistant turn/);
    } finally {
      await engine.dispose();
    }
  });
});
