// `--train new-experts` (issue #11 §3): resolved from the experts moe_workbench.json records as added —
// add-experts' new ids E..E+N−1 (also through a tensor-update record's `previous`), every expert of an
// upcycled model — and refused with the reason on a model made by neither; a malformed record is an error,
// and is read only when new-experts is asked for.
// Run: node --import tsx --test test/engine/newExpertsSpec.test.ts
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addedExperts, trainSpecContext } from '../../src/engine/grow/addedExperts';
import { ADD_EXPERTS_DEFAULTS } from '../../src/engine/grow/addExpertsPlan';
import { ExpertTrainer } from '../../src/engine/finetune/expertTrainer';
import { MoeEngine } from '../../src/engine/moeEngine';
import { writeAddedExperts } from '../../src/engine/grow/writeAddedExperts';
import { loadModelConfig } from '../../src/engine/model/parseConfig';
import { parseTrainSpec, resolveTrainSpecs, TRAIN_SPEC_FORMS } from '../../src/engine/training/trainSpec';
import { UPCYCLE_DEFAULTS } from '../../src/engine/upcycle/upcyclePlan';
import { writeUpcycled } from '../../src/engine/upcycle/writeUpcycled';
import { MoeError } from '../../src/protocol/moeError';
import { fixture } from '../support/paths';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-new-experts-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const grown = path.join(root, 'grown');
const upcycled = path.join(root, 'upcycled');

const sorted = (m: ReadonlyMap<number, ReadonlySet<number> | readonly number[]>): [number, number[]][] => [...m].map(([L, s]): [number, number[]] => [L, [...s].sort((a, b) => a - b)]).sort((a, b) => a[0] - b[0]);

describe('--train new-experts', () => {
  before(async () => {
    await writeAddedExperts(fixture('qwen2_moe'), grown, { ...ADD_EXPERTS_DEFAULTS, count: 2, from: 'cold' }, { evaluate: false });
    await writeUpcycled(fixture('qwen3'), upcycled, { ...UPCYCLE_DEFAULTS, experts: 4, topK: 2, layers: [1] }, { evaluate: false });
  });

  it('parses, and is listed among the forms', () => {
    assert.deepEqual(parseTrainSpec(' new-experts '), { kind: 'new-experts' });
    assert.match(TRAIN_SPEC_FORMS, /new-experts \(those moe_workbench\.json records as added by upcycle or add-experts\)/);
  });

  it('after add-experts: the ids E..E+N−1 of every MoE layer, with routers when asked; the old experts are not trainable', () => {
    assert.deepEqual(sorted(addedExperts(grown)!), [[0, [8, 9]], [1, [8, 9]], [2, [8, 9]]]);
    const c = loadModelConfig(grown);
    const set = resolveTrainSpecs(['new-experts', 'routers'], c, trainSpecContext(grown, ['new-experts', 'routers']));
    assert.deepEqual(sorted(set.experts), [[0, [8, 9]], [1, [8, 9]], [2, [8, 9]]]);
    assert.deepEqual([...set.tensors].sort(), [0, 1, 2].map((L) => `model.layers.${L}.mlp.gate.weight`));
    // With another spec the union: new-experts ∪ experts=0:1.
    const u = resolveTrainSpecs(['new-experts', 'experts=0:1'], c, trainSpecContext(grown, ['new-experts', 'experts=0:1']));
    assert.deepEqual(sorted(u.experts)[0], [0, [1, 8, 9]]);
  });

  it('the trainer on the grown model trains the new experts and the routers only', async () => {
    const engine = await MoeEngine.load(grown);
    try {
      const trainable = resolveTrainSpecs(['new-experts', 'routers'], engine.config, trainSpecContext(grown, ['new-experts', 'routers']));
      const trainer = await ExpertTrainer.create(engine, { trainable, optimizer: 'sgd', weightDecay: 0, gradClip: 0, auxLossCoef: 0.01 });
      const r = await trainer.trainStep([{ ids: Array.from({ length: 24 }, (_, i) => (i * 37) % 300) }], 0.1);
      assert.ok(Number.isFinite(r.loss));
      const names = [...trainer.hfTensors().keys()].sort();
      const expected = [0, 1, 2].flatMap((L) => [`model.layers.${L}.mlp.gate.weight`, ...[8, 9].flatMap((e) => ['down_proj', 'gate_proj', 'up_proj'].map((m) => `model.layers.${L}.mlp.experts.${e}.${m}.weight`))]).sort();
      assert.deepEqual(names, expected);
    } finally {
      await engine.dispose();
    }
  });

  it('after an upcycle: every expert of the MoE layers (layer 1 only here)', () => {
    assert.deepEqual(sorted(addedExperts(upcycled)!), [[1, [0, 1, 2, 3]]]);
    const set = resolveTrainSpecs(['new-experts'], loadModelConfig(upcycled), trainSpecContext(upcycled, ['new-experts']));
    assert.deepEqual(sorted(set.experts), [[1, [0, 1, 2, 3]]]);
  });

  it('through a tensor-update record (fine-tuned or adapter applied), the record it was made from', () => {
    const dir = path.join(root, 'updated');
    fs.cpSync(grown, dir, { recursive: true });
    const previous = JSON.parse(fs.readFileSync(path.join(grown, 'moe_workbench.json'), 'utf8')) as unknown;
    fs.writeFileSync(path.join(dir, 'moe_workbench.json'), JSON.stringify({ format: 'moe-workbench.tensor-update', version: 1, operation: 'apply-adapter', previous }));
    assert.deepEqual(sorted(addedExperts(dir)!), [[0, [8, 9]], [1, [8, 9]], [2, [8, 9]]]);
  });

  it('refused on a model made by neither, naming its record; a malformed record is an error only when asked for', () => {
    for (const dir of [fixture('qwen2_moe'), path.join(root, 'pruned')]) {
      if (dir.endsWith('pruned')) {
        fs.cpSync(fixture('qwen2_moe'), dir, { recursive: true });
        fs.chmodSync(dir, 0o755);
        fs.writeFileSync(path.join(dir, 'moe_workbench.json'), JSON.stringify({ format: 'moe-workbench.operation', version: 1, experts: [] }));
      }
      assert.equal(addedExperts(dir), undefined);
      assert.throws(
        () => resolveTrainSpecs(['new-experts'], loadModelConfig(dir), trainSpecContext(dir, ['new-experts'])),
        (e: unknown) => e instanceof MoeError && e.message === `--train new-experts: ${path.join(dir, 'moe_workbench.json')} records no added experts (this model was not made by upcycle or add-experts)`,
      );
    }
    assert.throws(() => resolveTrainSpecs(['new-experts'], loadModelConfig(grown)), /--train new-experts: the model's moe_workbench\.json records no added experts/);
    const bad = path.join(root, 'bad');
    fs.cpSync(grown, bad, { recursive: true });
    fs.writeFileSync(path.join(bad, 'moe_workbench.json'), JSON.stringify({ format: 'moe-workbench.add-experts', layers: [{ layer: 0, added: [{ expert: 'eight' }] }] }));
    assert.throws(() => trainSpecContext(bad, ['new-experts']), (e: unknown) => e instanceof MoeError && /layers\[0\]\.added\[0\]\.expert is not an expert id/.test(e.message));
    assert.equal(resolveTrainSpecs(['experts'], loadModelConfig(bad), trainSpecContext(bad, ['experts'])).experts.size, 3);
    // Ids the config does not have (a record that does not match the model) are refused like experts=L:E.
    assert.throws(() => resolveTrainSpecs(['new-experts'], loadModelConfig(fixture('qwen2_moe')), { newExperts: new Map([[0, [8]]]) }), /expert 8 does not exist in layer 0 \(it has 8 routed experts, 0\.\.7\)/);
  });
});
