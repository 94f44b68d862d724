// Profiling "the workspace" reads the user's documents, not the checkpoints and files the tool wrote into it
// (issue #8, 4.1: 4 documents became 18 with a pruned checkpoint's config.json, tokenizer.json and report).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-workspace-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const write = (rel: string, content: string): string => {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
  return p;
};

describe('gathering workspace data', () => {
  // The user's four documents.
  const docs = [write('ws/notes.md', '# Notes\nexperts'), write('ws/src/main.py', 'print(1)\n'), write('ws/chat.jsonl', '{"text": "hello"}\n'), write('ws/data/config.json', '{"user": "settings file, theirs"}')];
  // A checkpoint the tool pruned into the workspace, with its report and the profile copy.
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'moe_workbench.json', 'moe-workbench-profile.json', 'report.json']) write(`ws/model-pruned/${f}`, '{}');
  write('ws/model-pruned/model.safetensors', 'weights');
  write('ws/model-pruned/report.html', '<html>report</html>');
  write('ws/model-pruned/README.md', '# model card');
  // A sharded model folder, the profiles folder next to a model, and loose tokenizer/tool files.
  write('ws/models/big/config.json', '{}');
  write('ws/models/big/model.safetensors.index.json', '{}');
  write('ws/models/big/notes.txt', 'inside a model folder');
  write('ws/models/moe-workbench-profiles/profile-0123456789ab-c512.json', '{}');
  write('ws/tokenizer.json', '{}');
  write('ws/exported/report.json', '{}');
  write('ws/exported/report.html', '<html></html>');

  it('skips model folders and the tool’s outputs, and keeps every document of the user', () => {
    const set = readCalibrationSet([path.join(root, 'ws')]);
    assert.deepEqual([...set.files].sort(), [...docs].sort());
    assert.equal(set.documents.length, 4);
  });

  it('a lone report.json is the user’s data, not a report of the tool', () => {
    const lone = write('ws2/report.json', '{"quarter": 3}');
    assert.deepEqual(readCalibrationSet([path.join(root, 'ws2')]).files, [lone]);
  });

  it('what the user names explicitly is read even when it looks like a tool file', () => {
    const f = path.join(root, 'ws/model-pruned/README.md');
    assert.deepEqual(readCalibrationSet([f]).files, [f]);
    // A model folder named explicitly is read, but still without the tool's own files in it.
    const names = readCalibrationSet([path.join(root, 'ws/model-pruned')]).files.map((p) => path.basename(p));
    assert.ok(names.includes('README.md'), names.join(', '));
    for (const tool of ['tokenizer.json', 'tokenizer_config.json', 'moe_workbench.json', 'moe-workbench-profile.json', 'report.json', 'report.html']) assert.ok(!names.includes(tool), tool);
  });
});
