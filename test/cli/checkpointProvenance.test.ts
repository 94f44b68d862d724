// Through the real CLI (issue #8, 2.4 and 4.1): `prune` says which source files it did not copy (a link to
// a file outside the model folder), and the checkpoint keeps its own copy of the profile it was planned
// from, so a later profile run on changed data cannot change what the checkpoint cites.
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { OperationRecord } from '../../src/protocol/expertOps';
import { cliBundle } from '../support/paths';
import { copyFixture, removeTempModels } from '../support/tempModel';

const run = promisify(execFile);
let tmp: string;
let model: string;
let data: string;

const cli = async (...args: string[]): Promise<string> => (await run(process.execPath, [cliBundle, ...args], { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, XDG_CACHE_HOME: path.join(tmp, 'cache') } })).stdout;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-cli-provenance-'));
  model = copyFixture('qwen3_moe');
  fs.writeFileSync(path.join(tmp, 'secret.txt'), 'TOP SECRET');
  fs.symlinkSync(path.join(tmp, 'secret.txt'), path.join(model, 'notes.txt'));
  data = path.join(tmp, 'data');
  fs.mkdirSync(data);
  fs.writeFileSync(path.join(data, 'a.md'), 'The first notes: experts and routers. '.repeat(4));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  removeTempModels();
});

describe('prune: what the checkpoint takes along and records', () => {
  it('skips the link out of the model folder and says so; records and carries the exact profile', async () => {
    const out = path.join(tmp, 'pruned');
    const stdout = await cli('prune', '--model', model, '--data', data, '--method', 'frequency', '--keep', '6', '--no-eval', '--chunk', '32', '--out', out);
    assert.match(stdout, /not copied from the source folder: notes\.txt \(a symbolic link to a file outside the model folder\)/);
    assert.ok(!fs.existsSync(path.join(out, 'notes.txt')));

    const record = JSON.parse(fs.readFileSync(path.join(out, 'moe_workbench.json'), 'utf8')) as OperationRecord;
    assert.deepEqual(record.skippedFiles, [{ name: 'notes.txt', reason: 'a symbolic link to a file outside the model folder' }]);
    const copy = path.join(out, record.profile!.file);
    assert.equal(record.profile!.file, 'moe-workbench-profile.json');
    const copied = fs.readFileSync(copy);
    assert.equal(record.profile!.sha256, createHash('sha256').update(copied).digest('hex'));
    const original = record.profile!.originalFile!;
    assert.ok(original.startsWith(path.join(model, 'moe-workbench-profiles') + path.sep), original);
    assert.deepEqual(fs.readFileSync(original), copied);

    // The data changes and is profiled again: a new profile file; the checkpoint's copy and its original stay.
    fs.writeFileSync(path.join(data, 'a.md'), 'Rewritten notes with other words entirely. '.repeat(4));
    const again = JSON.parse(await cli('profile', '--model', model, '--data', data, '--chunk', '32', '--json')) as { file: string };
    assert.notEqual(again.file, original);
    assert.deepEqual(fs.readFileSync(copy), copied);
    assert.deepEqual(fs.readFileSync(original), copied);
  });
});
