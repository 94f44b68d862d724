// Journey 3 from the command line (issue #11 §1, §3): upcycle the dense llama fixture into a Mixtral, then
// `finetune --train new-experts` trains exactly the experts the upcycling recorded as new (all of them), and
// the same spec is refused on a model no upcycle or add-experts made. The built CLI as a user runs it.
// Run: npm run build && node --import tsx --test test/cli/growTrainCli.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { addedExperts } from '../../src/engine/grow/addedExperts';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { fixture } from '../support/paths';
import { cli } from '../support/runCli';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-grow-cli-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe('upcycle / add-experts, then finetune --train new-experts', () => {
  test('trains every upcycled expert, or only the added ones, and nothing else; refused on a model with no added experts', async () => {
    const moe = path.join(root, 'moe');
    const up = await cli('upcycle', '--model', fixture('llama'), '--out', moe, '--experts', '4', '--top-k', '2', '--json');
    assert.equal(up.code, 0, up.stderr);
    const config = JSON.parse(fs.readFileSync(path.join(moe, 'config.json'), 'utf8')) as { model_type: string; num_local_experts: number };
    assert.deepEqual([config.model_type, config.num_local_experts], ['mixtral', 4]);

    const data = path.join(root, 'data.txt');
    fs.writeFileSync(data, Array.from({ length: 30 }, (_, i) => `line ${i % 4}: the new experts learn the pattern ${i % 3}.`).join('\n'));
    const out = path.join(root, 'trained');
    const ft = await cli('finetune', '--model', moe, '--data', data, '--train', 'new-experts', '--steps', '2', '--seq-len', '32', '--lr', '1e-3', '--out', out, '--json');
    assert.equal(ft.code, 0, ft.stderr);
    const record = JSON.parse(fs.readFileSync(path.join(out, 'moe_workbench.json'), 'utf8')) as { tensors: string[]; previous?: { format?: string } };
    assert.equal(record.previous?.format, 'moe-workbench.upcycle', 'the upcycle record travels along, so the experts stay "new"');
    assert.deepEqual([...(addedExperts(out) ?? new Map()).entries()], [[0, [0, 1, 2, 3]], [1, [0, 1, 2, 3]]]);
    const layers = Array.from({ length: 2 }, (_, L) => L);
    const expected = layers.flatMap((L) => [0, 1, 2, 3].flatMap((e) => ['w1', 'w2', 'w3'].map((w) => `model.layers.${L}.block_sparse_moe.experts.${e}.${w}.weight`))).sort();
    assert.deepEqual(record.tensors, expected, 'exactly the routed experts of every MoE layer trained');
    // Something did change, and the routers did not.
    const a = openCheckpoint(moe);
    const b = openCheckpoint(out);
    try {
      const w = expected[0]!;
      assert.notDeepEqual(Array.from(b.tensors.get(w)!.file.readF32(w)), Array.from(a.tensors.get(w)!.file.readF32(w)));
      const gate = 'model.layers.0.block_sparse_moe.gate.weight';
      assert.deepEqual(Array.from(b.tensors.get(gate)!.file.readF32(gate)), Array.from(a.tensors.get(gate)!.file.readF32(gate)));
    } finally {
      a.close();
      b.close();
    }

    // add-experts: one cold expert per MoE layer of the Mixtral fixture (ids 8); new-experts trains only those.
    const grown = path.join(root, 'grown');
    const ae = await cli('add-experts', '--model', fixture('mixtral'), '--out', grown, '--count', '1', '--from', 'cold', '--no-eval');
    assert.equal(ae.code, 0, ae.stderr);
    const grownOut = path.join(root, 'grown-trained');
    const ft2 = await cli('finetune', '--model', grown, '--ids', '5,6,7,8,9,10,11,12,13,14', '--train', 'new-experts', '--steps', '1', '--out', grownOut);
    assert.equal(ft2.code, 0, ft2.stderr);
    const grownRecord = JSON.parse(fs.readFileSync(path.join(grownOut, 'moe_workbench.json'), 'utf8')) as { tensors: string[] };
    assert.ok(grownRecord.tensors.length > 0 && grownRecord.tensors.every((t) => /\.experts\.8\.w[123]\.weight$/.test(t)), `only the added experts trained: ${JSON.stringify(grownRecord.tensors)}`);

    const refused = await cli('finetune', '--model', fixture('mixtral'), '--ids', '1,2,3,4,5', '--train', 'new-experts', '--steps', '1', '--out', path.join(root, 'no'));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /records no added experts|moe_workbench\.json/);
    assert.ok(!fs.existsSync(path.join(root, 'no')), 'nothing written');
  });
});
