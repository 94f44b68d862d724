// What ModelInfo says about where a model came from (issue #8, 4.3 and 4.8): the demo model (and what is
// pruned from it) is labelled untrained; a pruned or merged checkpoint carries its experts' source ids from
// moe_workbench.json; a malformed marker is a warning, never a failed load. Real files, real engine.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { markUntrained } from '../../src/devtools/untrainedMarker';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { modelIdentity } from '../../src/engine/experts/modelIdentity';
import { operationRecord } from '../../src/engine/experts/operationRecord';
import { planMerge } from '../../src/engine/experts/planMerge';
import { planPrune } from '../../src/engine/experts/planPrune';
import { writeProfile } from '../../src/engine/experts/profileFile';
import { profileExperts } from '../../src/engine/experts/profileExperts';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { describeCheckpoint } from '../../src/engine/modelInfo';
import { DEFAULT_UNTRAINED_NOTE } from '../../src/engine/modelProvenance';
import { MoeEngine } from '../../src/engine/moeEngine';
import { writeExpertPlan } from '../../src/engine/surgery/writeExpertPlan';
import type { ExpertPlan, ExpertProfile } from '../../src/protocol/expertOps';
import type { ModelInfo } from '../../src/protocol/modelInfo';
import type { DocumentRouting } from '../../src/features/annotation/documentRouting';
import { hoverMarkdown } from '../../src/features/hover/hoverMarkdown';
import { FakeEmitter, withFakeVscode } from '../support/fakeVscode';
import { fixture } from '../support/paths';
import { copyFixture, editJson, removeTempModels } from '../support/tempModel';

const TEXT = 'Experts route tokens. def f(x):\n    return x * 2  # code\nLes experts aiment le café. 12345 + 678 = 13023.\n';

let tmp: string;
let src: string;
let profile: ExpertProfile;
before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-provenance-'));
  fs.writeFileSync(path.join(tmp, 'calib.txt'), TEXT);
  // A writable Mixtral fixture (8 experts, top-2, 2 layers) marked untrained as the demo model is.
  src = copyFixture('mixtral');
  markUntrained(path.join(src, 'config.json'), 'made for this test');
  const engine = await MoeEngine.load(src);
  try {
    profile = await profileExperts(engine, readCalibrationSet([path.join(tmp, 'calib.txt')]), { chunkTokens: 24 });
    fs.writeFileSync(path.join(tmp, 'p.json'), JSON.stringify(profile)); // the written checkpoint carries a copy of it
  } finally {
    await engine.dispose();
  }
  await writeProfile(profileFile(), profile);
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  removeTempModels();
});

const profileFile = (): string => path.join(tmp, 'profile.json');

async function write(plan: ExpertPlan, name: string): Promise<string> {
  const out = path.join(tmp, name);
  await writeExpertPlan(src, plan, out, operationRecord(plan, modelIdentity(src), { file: profileFile(), profile }));
  return out;
}

async function load(dir: string): Promise<ModelInfo> {
  const engine = await MoeEngine.load(dir);
  try {
    return engine.info;
  } finally {
    await engine.dispose();
  }
}

function describeDir(dir: string): ModelInfo {
  const c = openCheckpoint(dir);
  try {
    return describeCheckpoint(c);
  } finally {
    c.close();
  }
}

describe('ModelInfo: untrained models', () => {
  it('a checkpoint marked untrained says so, with the note from its config.json', () => {
    const info = describeDir(src);
    assert.deepEqual(info.untrained, { note: 'made for this test' });
    assert.equal(info.warnings, undefined);
  });

  it('the bundled demo model is trained (media/demo-model/TRAINING.md): no untrained flag', () => {
    const info = describeDir(path.join(__dirname, '..', '..', 'media', 'demo-model'));
    assert.equal(info.untrained, undefined);
    assert.equal(info.warnings, undefined);
  });

  it('a trained checkpoint has no untrained flag, no origins and no warnings', () => {
    const info = describeDir(fixture('mixtral'));
    assert.equal(info.untrained, undefined);
    assert.equal(info.expertOrigins, undefined);
    assert.equal(info.warnings, undefined);
  });

  it('a marker without a note gets the default note; trained: true is not flagged', () => {
    const dir = copyFixture('mixtral');
    editJson(path.join(dir, 'config.json'), (c) => (c['moe_workbench_demo'] = { trained: false }));
    assert.deepEqual(describeDir(dir).untrained, { note: DEFAULT_UNTRAINED_NOTE });
    editJson(path.join(dir, 'config.json'), (c) => (c['moe_workbench_demo'] = { trained: true }));
    assert.equal(describeDir(dir).untrained, undefined);
  });

  it('a malformed marker is a warning naming config.json and the key, and the model loads', async () => {
    const dir = copyFixture('mixtral');
    editJson(path.join(dir, 'config.json'), (c) => (c['moe_workbench_demo'] = 'untrained'));
    const info = await load(dir);
    assert.equal(info.untrained, undefined);
    assert.equal(info.warnings?.length, 1);
    assert.match(info.warnings![0]!, /config\.json: "moe_workbench_demo" should be an object/);
  });
});

describe('ModelInfo: source ids of pruned and merged experts', () => {
  it('a pruned checkpoint loads with the source id of every expert, and stays labelled untrained', async () => {
    const plan = planPrune(profile, { method: 'reap', target: { kind: 'keep', keep: 5 }, protect: [] });
    const out = await write(plan, 'pruned');
    const info = await load(out);
    assert.equal(info.numExperts, 5);
    assert.equal(info.expertOrigins?.operation, 'prune');
    assert.equal(info.expertOrigins?.source, path.resolve(src));
    assert.deepEqual(
      info.expertOrigins?.layers,
      plan.layers.map((l) => ({ layer: l.layer, experts: l.experts.map((x) => [x.routerRow]) })),
    );
    // The ids really are renumbered: some new id differs from its source id.
    assert.ok(info.expertOrigins!.layers.some((l) => l.experts.some((ids, e) => ids[0] !== e)), 'the plan renumbers experts');
    assert.deepEqual(info.untrained, { note: 'made for this test' });
    assert.equal(info.warnings, undefined);
  });

  it('a merged checkpoint lists every source expert of each group, its router row first', async () => {
    const plan = planMerge(profile, { keep: 3 });
    const out = await write(plan, 'merged');
    const info = await load(out);
    assert.equal(info.expertOrigins?.operation, 'merge');
    const layers = info.expertOrigins!.layers;
    assert.deepEqual(layers.map((l) => l.layer), plan.layers.map((l) => l.layer));
    plan.layers.forEach((l, i) => {
      const got = layers[i]!.experts;
      assert.equal(got.length, 3);
      l.experts.forEach((x, e) => {
        const members = [...(x.members ?? x.sources.map((s) => s.expert))];
        assert.equal(got[e]![0], x.routerRow, `layer ${l.layer} expert ${e}: router row first`);
        assert.deepEqual([...got[e]!].sort((a, b) => a - b), members.sort((a, b) => a - b), `layer ${l.layer} expert ${e}`);
      });
      // 8 experts into 3: every source expert is in exactly one group.
      assert.deepEqual(got.flat().sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7]);
    });
  });

  for (const [what, edit, message] of [
    ['not JSON', (f: string) => fs.writeFileSync(f, '{"format": "moe-workbench.operation", '), /moe_workbench\.json is not valid JSON/],
    ['another format', (f: string) => fs.writeFileSync(f, '{"format": "something-else"}'), /not a "moe-workbench\.operation" record/],
    ['kept of the wrong length', (f: string) => editJson(f, (r) => ((r['experts'] as { kept: number[] }[])[0]!.kept = [0, 1])), /experts\[0\]\.kept lists 2 experts, but layer 0 has 5/],
    ['ids that are not integers', (f: string) => editJson(f, (r) => ((r['experts'] as { kept: unknown[] }[])[1]!.kept = ['a', 1, 2, 3, 4])), /experts\[1\]\.kept is not a list of expert ids/],
    ['a missing layer', (f: string) => editJson(f, (r) => (r['experts'] = (r['experts'] as unknown[]).slice(0, 1))), /no entry for MoE layer 1/],
    ['bad merged groups', (f: string) => editJson(f, (r) => ((r['experts'] as { merged: unknown }[])[0]!.merged = [[0, -1]])), /experts\[0\]\.merged is not a list of groups/],
  ] as const) {
    it(`a moe_workbench.json with ${what} is a warning naming the file, and the model loads`, async () => {
      const plan = planPrune(profile, { method: 'frequency', target: { kind: 'keep', keep: 5 }, protect: [] });
      const out = await write(plan, `bad-${what.replace(/\W+/g, '-')}`);
      const record = path.join(out, 'moe_workbench.json');
      edit(record);
      const info = await load(out);
      assert.equal(info.numExperts, 5);
      assert.equal(info.expertOrigins, undefined);
      assert.equal(info.warnings?.length, 1, JSON.stringify(info.warnings));
      assert.ok(info.warnings![0]!.includes(record), info.warnings![0]);
      assert.match(info.warnings![0]!, message);
      assert.match(info.warnings![0]!, /shown without their source ids/);
    });
  }
});

describe('views of a pruned checkpoint loaded in the engine', () => {
  const { ModelTreeProvider } = withFakeVscode(() => require('../../src/features/modelTree/modelTreeProvider') as typeof import('../../src/features/modelTree/modelTreeProvider'));
  const { ProfileStore } = withFakeVscode(() => require('../../src/features/profile/profileStore') as typeof import('../../src/features/profile/profileStore'));

  it('the Model tree and the hover show each expert\'s source id', async () => {
    const plan = planPrune(profile, { method: 'gate', target: { kind: 'keep', keep: 4 }, protect: [] });
    const out = await write(plan, 'pruned-for-views');
    const engine = await MoeEngine.load(out);
    let doc: DocumentRouting;
    try {
      const ids = [5, 17, 42, 7, 99, 3];
      const { routing } = await engine.forward(ids, { routing: true, hidden: false, logits: false });
      const k = engine.info.topK;
      doc = {
        uri: 'file:///x.prompt',
        version: 1,
        tokens: ids.map((id, t) => ({ id, text: `t${t}`, start: 2 * t, end: 2 * t + 2 })),
        numExperts: engine.info.numExperts,
        topK: k,
        complete: true,
        known: new Uint8Array(ids.length).fill(1),
        layers: routing.map((r) => ({ layer: r.layer, experts: Int32Array.from(r.experts.data), weights: Float32Array.from(r.weights.data), entropy: Float32Array.from(r.entropy) })),
      };
    } finally {
      await engine.dispose();
    }
    const info = engine.info;
    const kept = (layer: number): number[] => plan.layers.find((l) => l.layer === layer)!.experts.map((x) => x.routerRow);

    type Ctor = ConstructorParameters<typeof ModelTreeProvider>;
    const models = { info, state: { kind: 'ready', dir: out, info }, onDidChange: new FakeEmitter<unknown>().event };
    const stats = { tokens: 0, counts: (_l: number, E: number) => new Array<number>(E).fill(0), onDidChange: new FakeEmitter<void>().event };
    const tree = new ModelTreeProvider(models as unknown as Ctor[0], stats as unknown as Ctor[1], new ProfileStore());
    for (const layer of info.moeLayers) {
      const labels = tree.getChildren({ kind: 'layer', layer }).map((n) => tree.getTreeItem(n).label);
      assert.deepEqual(labels, kept(layer).map((orig, e) => `Expert ${e} (orig. ${orig})`));
    }

    const md = hoverMarkdown(doc, 2, undefined, undefined, info.expertOrigins);
    for (const l of doc.layers) {
      const row = md.split('\n').find((x) => x.startsWith(`| L${l.layer} `))!;
      for (let j = 0; j < doc.topK; j++) {
        const e = l.experts[2 * doc.topK + j]!;
        assert.ok(row.includes(`[**${e}**]`) && row.includes(`(orig. ${kept(l.layer)[e]})`), `layer ${l.layer} expert ${e}: ${row}`);
      }
    }
    assert.doesNotMatch(hoverMarkdown(doc, 2, undefined), /orig\./, 'without origins, plain ids');
  });
});
