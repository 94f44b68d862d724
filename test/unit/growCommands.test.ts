// "MoE: Continue Training New Experts…" through the fake vscode, on real checkpoints: the context key that
// enables it follows the loaded model's moe_workbench.json (a model grown by the real add-experts writer: on;
// the fixture itself, or a malformed record: off), and the command starts the fine-tune flow only for a model
// with new experts, saying why otherwise.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADD_EXPERTS_DEFAULTS } from '../../src/engine/grow/addExpertsPlan';
import { writeAddedExperts } from '../../src/engine/grow/writeAddedExperts';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { describeCheckpoint } from '../../src/engine/modelInfo';
import { Contexts } from '../../src/features/ids';
import type { ModelInfo } from '../../src/protocol/modelInfo';
import { FakeEmitter, fakeVscode, withFakeVscode } from '../support/fakeVscode';
import { fixture } from '../support/paths';

const contexts = new Map<string, unknown>();
(fakeVscode as unknown as { commands: unknown }).commands = {
  executeCommand: (id: string, key: string, value: unknown): Promise<undefined> => {
    if (id === 'setContext') contexts.set(key, value);
    return Promise.resolve(undefined);
  },
};
// After the fake has its commands (the module's namespace import sees the keys present when it loads).
const { ContinueTrainingNewExpertsCommand } = withFakeVscode(() => require('../../src/features/grow/growCommands') as typeof import('../../src/features/grow/growCommands'));

const infoOf = (dir: string): ModelInfo => {
  const c = openCheckpoint(dir);
  try {
    return describeCheckpoint(c);
  } finally {
    c.close();
  }
};

describe('Continue Training New Experts', () => {
  let tmp: string;
  let grown: string;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-grow-commands-'));
    grown = path.join(tmp, 'grown');
    await writeAddedExperts(fixture('mixtral'), grown, { ...ADD_EXPERTS_DEFAULTS, count: 1, from: { list: [{ layer: 0, expert: 3 }, { layer: 1, expert: 5 }] } }, { evaluate: false });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('is enabled exactly while the loaded model records new experts, and starts the fine-tune flow only then', async () => {
    const changed = new FakeEmitter<unknown>();
    const models = { info: infoOf(fixture('mixtral')) as ModelInfo | undefined, onDidChange: changed.event, ensureLoaded: async () => models.info };
    let started = 0;
    const finetune = { start: async () => void started++ };
    const cmd = new ContinueTrainingNewExpertsCommand(models as never, finetune as never);
    assert.equal(contexts.get(Contexts.modelHasNewExperts), false, 'the fixture was not grown');
    fakeVscode.window.shown.length = 0;
    await cmd.execute();
    assert.equal(started, 0);
    assert.match(fakeVscode.window.shown.at(-1)?.[1] ?? '', /mixtral's moe_workbench\.json records no added experts .*open a grown or upcycled model/);

    models.info = infoOf(grown);
    changed.fire({});
    assert.equal(contexts.get(Contexts.modelHasNewExperts), true);
    await cmd.execute();
    assert.equal(started, 1, 'the fine-tune flow starts (its "what trains" pre-selects New experts)');

    fs.writeFileSync(path.join(grown, 'moe_workbench.json'), '{"format": "moe-workbench.add-experts", "layers": 3}');
    changed.fire({});
    assert.equal(contexts.get(Contexts.modelHasNewExperts), false, 'a malformed record enables nothing');
    models.info = undefined;
    changed.fire({});
    assert.equal(contexts.get(Contexts.modelHasNewExperts), false);
    cmd.dispose();
  });
});
