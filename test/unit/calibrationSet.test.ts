// Reading the user's calibration data (issue #4): supported files, .jsonl records, clear errors.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { chunkTokens, readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { MoeError } from '../../src/protocol/moeError';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-calib-'));
const write = (rel: string, content: string | Buffer): string => {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
  return p;
};

function rejects(f: () => unknown, message: RegExp, file?: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof MoeError);
    assert.equal(e.code, 'E_INPUT');
    assert.match(e.message, message);
    if (file) assert.equal(e.file, file);
    return true;
  });
}

describe('calibration set', () => {
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('reads text, markdown, source and jsonl (text and chat records) from a folder, sorted, skipping noise', () => {
    const dir = path.join(root, 'data');
    write('data/a.txt', 'plain text');
    write('data/b.md', '# Title\nbody');
    write('data/src/c.py', 'def f():\n    return 1\n');
    write('data/d.jsonl', '{"text": "first"}\n\n{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n');
    write('data/node_modules/x.js', 'ignored');
    write('data/image.png', Buffer.from([0x89, 0x50]));
    write('data/empty.txt', '  \n');
    const set = readCalibrationSet([dir]);
    assert.deepEqual(set.documents.map((d) => [path.relative(dir, d.source), d.line, d.text]), [
      ['a.txt', undefined, 'plain text'],
      ['b.md', undefined, '# Title\nbody'],
      ['d.jsonl', 1, 'first'],
      ['d.jsonl', 3, 'user: hi\nassistant: hello'],
      [path.join('src', 'c.py'), undefined, 'def f():\n    return 1\n'],
    ]);
    assert.equal(set.files.length, 5);
    assert.match(set.sha256, /^[0-9a-f]{64}$/);
    assert.equal(readCalibrationSet([dir]).sha256, set.sha256, 'same data, same identity');
    write('data/a.txt', 'plain text!');
    assert.notEqual(readCalibrationSet([dir]).sha256, set.sha256, 'changed data, new identity');
  });

  it('malformed datasets name the file and the line', () => {
    const bad = write('bad.jsonl', '{"text": "ok"}\n{"text": \n');
    rejects(() => readCalibrationSet([bad]), /bad\.jsonl:2: not valid JSON/, bad);
    const noField = write('nofield.jsonl', '{"prompt": "x"}\n');
    rejects(() => readCalibrationSet([noField]), /nofield\.jsonl:1: a record needs a string "text" or a "messages" list/, noField);
    const badMsg = write('badmsg.jsonl', '{"messages": [{"role": "user"}]}\n');
    rejects(() => readCalibrationSet([badMsg]), /badmsg\.jsonl:1: messages\[0\] must be/, badMsg);
    const latin1 = write('latin1.txt', Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    rejects(() => readCalibrationSet([latin1]), /latin1\.txt is not UTF-8 text/, latin1);
  });

  it('empty sets, missing paths and unsupported files are refused', () => {
    const empty = path.join(root, 'empty');
    fs.mkdirSync(empty);
    rejects(() => readCalibrationSet([empty]), /the calibration set is empty/);
    rejects(() => readCalibrationSet([]), /no calibration data given/);
    rejects(() => readCalibrationSet([path.join(root, 'missing')]), /calibration data not found/);
    const bin = write('model.bin', 'x');
    rejects(() => readCalibrationSet([bin]), /unsupported calibration file type "\.bin"/, bin);
  });

  it('chunks token ids to a length, dropping pieces that predict nothing', () => {
    assert.deepEqual(chunkTokens([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4]]);
    assert.deepEqual(chunkTokens([1, 2, 3, 4, 5, 6], 4), [[1, 2, 3, 4], [5, 6]]);
    assert.throws(() => chunkTokens([1, 2], 1), /chunk length/);
  });
});
