// What a written checkpoint takes from its source folder and what it records (issue #8, 2.4 and 4.1): only
// regular files really inside the folder (a link to ../secret.txt, a FIFO are skipped and listed), normal permissions, and a copy of the exact profile the plan came from. Real files, real engine.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { modelIdentity } from '../../src/engine/experts/modelIdentity';
import { operationRecord } from '../../src/engine/experts/operationRecord';
import { planPrune } from '../../src/engine/experts/planPrune';
import { readProfile, writeProfile } from '../../src/engine/experts/profileFile';
import { profileExperts } from '../../src/engine/experts/profileExperts';
import { MoeEngine } from '../../src/engine/moeEngine';
import { PROFILE_COPY_FILE, writeExpertPlan } from '../../src/engine/surgery/writeExpertPlan';
import type { ExpertPlan, ExpertProfile, OperationRecord } from '../../src/protocol/expertOps';
import { MoeError } from '../../src/protocol/moeError';
import { copyFixture, removeTempModels } from '../support/tempModel';

let tmp: string;
let src: string;
let profile: ExpertProfile;
let profileFile: string;
let plan: ExpertPlan;
let n = 0;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-ckpt-files-'));
  src = copyFixture('qwen3_moe');
  fs.writeFileSync(path.join(tmp, 'calib.txt'), 'Tokens are routed to experts; some experts are rare. 1 2 3.\n'.repeat(3));
  const engine = await MoeEngine.load(src);
  try {
    profile = await profileExperts(engine, readCalibrationSet([path.join(tmp, 'calib.txt')]), { chunkTokens: 32 });
  } finally {
    await engine.dispose();
  }
  profileFile = path.join(tmp, 'profile.json');
  await writeProfile(profileFile, profile);
  plan = planPrune(profile, { method: 'frequency', target: { kind: 'keep', keep: 6 }, protect: [] });
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  removeTempModels();
});

function outDir(): string {
  const d = path.join(tmp, `out${n++}`);
  fs.mkdirSync(d);
  return path.join(d, 'pruned');
}

const readRecord = (dir: string): OperationRecord => JSON.parse(fs.readFileSync(path.join(dir, 'moe_workbench.json'), 'utf8')) as OperationRecord;

describe('the files a written checkpoint takes from its source folder', () => {
  it('copies regular files and links inside the folder; skips (and lists) a link to ../secret.txt, a FIFO and a broken link; a subfolder is left out as always', async () => {
    const dir = copyFixture('qwen3_moe');
    const secret = path.join(path.dirname(dir), `secret-${path.basename(dir)}.txt`);
    fs.writeFileSync(secret, 'TOP SECRET');
    try {
      fs.writeFileSync(path.join(dir, 'README.md'), '# model card\n');
      fs.symlinkSync('README.md', path.join(dir, 'alias.md'));
      fs.symlinkSync(path.relative(dir, secret), path.join(dir, 'notes.txt'));
      fs.symlinkSync('missing.txt', path.join(dir, 'broken.txt'));
      fs.mkdirSync(path.join(dir, 'extras'));
      execFileSync('mkfifo', [path.join(dir, 'pipe.txt')]);
      const out = outDir();
      const { written, record } = await writeExpertPlan(dir, plan, out, operationRecord(plan, modelIdentity(dir)));
      const files = fs.readdirSync(out).sort();
      assert.ok(files.includes('README.md') && files.includes('alias.md') && files.includes('tokenizer.json'), files.join(', '));
      for (const f of ['notes.txt', 'pipe.txt', 'extras', 'broken.txt']) assert.ok(!files.includes(f), `${f} is not copied`);
      assert.equal(fs.readFileSync(path.join(out, 'alias.md'), 'utf8'), '# model card\n');
      assert.ok(!fs.lstatSync(path.join(out, 'alias.md')).isSymbolicLink(), 'a copy, not a link');
      for (const f of files) assert.ok(!fs.readFileSync(path.join(out, f)).includes('TOP SECRET'), `${f} holds nothing from outside the folder`);
      const expected = [
        { name: 'broken.txt', reason: 'a broken symbolic link' },
        { name: 'notes.txt', reason: 'a symbolic link to a file outside the model folder' },
        { name: 'pipe.txt', reason: 'not a regular file (a FIFO, socket or device)' },
      ];
      assert.deepEqual(written.skipped, expected);
      assert.deepEqual(record.skippedFiles, expected);
      assert.deepEqual(readRecord(out).skippedFiles, expected, 'moe_workbench.json says what was skipped');
    } finally {
      fs.rmSync(secret, { force: true });
    }
  });

  it('a Hugging Face cache snapshot (every file a link into ../../blobs) is copied whole, nothing skipped', async () => {
    const repo = path.join(tmp, 'hub', 'models--org--tiny');
    const snap = path.join(repo, 'snapshots', 'abc123');
    fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
    fs.mkdirSync(snap, { recursive: true });
    for (const f of [...fs.readdirSync(src), 'README.md']) {
      const bytes = f === 'README.md' ? Buffer.from('# card\n') : fs.readFileSync(path.join(src, f));
      const blob = path.join(repo, 'blobs', createHash('sha256').update(bytes).digest('hex'));
      fs.writeFileSync(blob, bytes);
      fs.symlinkSync(path.relative(snap, blob), path.join(snap, f));
    }
    const out = outDir();
    const { written } = await writeExpertPlan(snap, plan, out, operationRecord(plan, modelIdentity(snap)));
    assert.equal(written.skipped, undefined);
    assert.equal(fs.readFileSync(path.join(out, 'README.md'), 'utf8'), '# card\n');
    assert.deepEqual(fs.readFileSync(path.join(out, 'tokenizer.json')), fs.readFileSync(path.join(src, 'tokenizer.json')));
  });

  it('the output folder and its files get the normal permissions (umask), not 0700', async () => {
    const out = outDir();
    await writeExpertPlan(src, plan, out, operationRecord(plan, modelIdentity(src)));
    const umask = process.umask();
    assert.equal(fs.statSync(out).mode & 0o777, 0o777 & ~umask, 'folder');
    for (const f of ['config.json', 'model.safetensors', 'moe_workbench.json']) assert.equal(fs.statSync(path.join(out, f)).mode & 0o777, 0o666 & ~umask, f);
    assert.equal(fs.statSync(path.join(out, 'tokenizer.json')).mode & 0o777, 0o644 & ~umask, 'a copied file keeps its source mode (0644)');
  });
});

describe('the profile a checkpoint was planned from travels with it', () => {
  it('moe_workbench.json points at a byte-for-byte copy in the checkpoint, with the original path and sha256', async () => {
    const out = outDir();
    const { record } = await writeExpertPlan(src, plan, out, operationRecord(plan, modelIdentity(src), { file: profileFile, profile }));
    const bytes = fs.readFileSync(profileFile);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const want = { file: PROFILE_COPY_FILE, originalFile: profileFile, sha256, dataSha256: profile.data.sha256, tokens: profile.data.tokens };
    assert.deepEqual(readRecord(out).profile, want);
    assert.deepEqual(record.profile, want, 'the record returned is the one written');
    assert.deepEqual(fs.readFileSync(path.join(out, PROFILE_COPY_FILE)), bytes);
    assert.equal(readProfile(path.join(out, PROFILE_COPY_FILE)).data.sha256, profile.data.sha256, 'the copy is a readable profile');

    // The original is rewritten (a new run on other data): what the checkpoint recorded does not change.
    fs.writeFileSync(profileFile, JSON.stringify({ ...profile, createdAt: '2030-01-01T00:00:00.000Z', data: { ...profile.data, sha256: 'f'.repeat(64) } }));
    assert.deepEqual(fs.readFileSync(path.join(out, PROFILE_COPY_FILE)), bytes);
    await writeProfile(profileFile, profile);
  });

  it('refuses (E_IO naming the file) when the profile file no longer holds the profile the plan came from', async () => {
    const changed = path.join(tmp, 'changed.json');
    await writeProfile(changed, profile);
    const record = operationRecord(plan, modelIdentity(src), { file: changed, profile });
    fs.writeFileSync(changed, JSON.stringify({ ...profile, data: { ...profile.data, tokens: profile.data.tokens + 1 } }));
    const out = outDir();
    await assert.rejects(writeExpertPlan(src, plan, out, record), (e: unknown) => e instanceof MoeError && e.code === 'E_IO' && e.message.includes(changed) && /changed after the plan was made/.test(e.message));
    assert.deepEqual(fs.readdirSync(path.dirname(out)), [], 'nothing written');
  });
});
