// Profiles are named by what they were computed from (issue #8, 4.1): the same folder with changed contents,
// or another token limit, gives a new file, so a run never overwrites the profile an existing checkpoint
// cites. Through the engine service's `profile` method on a real model, as the extension and CLI call it.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RequestContext } from '../../src/engine/engineService';
import { profileFileName } from '../../src/engine/experts/profilePaths';
import { MoeEngineService } from '../../src/engine/moeEngineService';
import { copyFixture, removeTempModels } from '../support/tempModel';

const ctx: RequestContext = { signal: new AbortController().signal, progress: () => undefined, pause: async () => undefined };
let tmp: string;
let service: MoeEngineService;
let model: string;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-profile-names-'));
  model = copyFixture('qwen3_moe');
  service = new MoeEngineService();
  await service.handle('load', { modelDir: model }, ctx);
});
after(async () => {
  await service.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
  removeTempModels();
});

describe('profile file names', () => {
  it('outDir (the demo model’s storage): the same folder with new contents gets a new file; the old one is untouched', async () => {
    const data = path.join(tmp, 'workspace');
    const store = path.join(tmp, 'storage', 'profiles');
    fs.mkdirSync(data, { recursive: true });
    fs.writeFileSync(path.join(data, 'a.md'), 'The first version of the notes. '.repeat(4));
    const first = await service.handle('profile', { data: [data], chunkTokens: 32, outDir: store }, ctx);
    const firstBytes = fs.readFileSync(first.file);
    assert.equal(path.basename(first.file), profileFileName({ dataSha256: first.profile.data.sha256, chunkTokens: 32 }));
    assert.ok(first.file.startsWith(store + path.sep));

    fs.writeFileSync(path.join(data, 'a.md'), 'The notes, rewritten: other words, other routing. '.repeat(4));
    const second = await service.handle('profile', { data: [data], chunkTokens: 32, outDir: store }, ctx);
    assert.notEqual(second.file, first.file);
    assert.deepEqual(fs.readFileSync(first.file), firstBytes, 'the first profile is not overwritten');
    assert.equal(path.dirname(second.file), path.dirname(first.file), 'one folder per model');
  });

  it('beside the model: a token limit is part of the name, so a limited run does not replace the full profile', async () => {
    const data = path.join(tmp, 'calib.txt');
    fs.writeFileSync(data, 'Some calibration text for the experts to route. '.repeat(6));
    const full = await service.handle('profile', { data: [data], chunkTokens: 32 }, ctx);
    const fullBytes = fs.readFileSync(full.file);
    const limited = await service.handle('profile', { data: [data], chunkTokens: 32, maxTokens: 20 }, ctx);
    assert.equal(path.dirname(full.file), path.join(model, 'moe-workbench-profiles'));
    assert.match(path.basename(full.file), /^profile-[0-9a-f]{12}-c32\.json$/);
    assert.match(path.basename(limited.file), /^profile-[0-9a-f]{12}-c32-max20\.json$/);
    assert.deepEqual(fs.readFileSync(full.file), fullBytes);
    assert.equal(limited.profile.data.tokens, 20);
  });
});
