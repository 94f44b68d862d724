// The engine process's own cleanup (issue #8): a staging folder it is writing is removed when it is told to
// stop (SIGINT as from a terminal's Ctrl-C, SIGTERM) or exits, and the exit code is 128 + the signal.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../support/paths';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-cleanup-'));
const src = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-cleanup-src-')); // stands for the source model folder
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(src, { recursive: true, force: true });
});
const script = path.join(repoRoot, 'test', 'fixtures', 'processes', 'stagingWriter.ts');
let n = 0;

/** Starts the writer, waits for its staging folder, optionally signals it; resolves with the exit code and the folder. */
function runWriter(sig: NodeJS.Signals | undefined, mode = 'wait'): Promise<{ code: number | null; signal: NodeJS.Signals | null; temp: string; parent: string }> {
  const parent = path.join(tmp, `p${n++}`);
  fs.mkdirSync(parent);
  const child = spawn(process.execPath, ['--import', 'tsx', script, src, path.join(parent, 'out'), mode], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let temp = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    if (!temp && out.includes('\n')) {
      temp = out.trim();
      assert.ok(fs.existsSync(path.join(temp, 'model.safetensors')), 'the partial file is there before the signal');
      if (sig) child.kill(sig);
      if (mode === 'exit') child.stdin.write('go\n');
    }
  });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, temp, parent })));
}

describe('installStagingCleanup in the engine process', () => {
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${sig}: removes the staging folder and exits ${code}`, async () => {
      const r = await runWriter(sig);
      assert.equal(r.code, code);
      assert.ok(r.temp !== '' && !fs.existsSync(r.temp), 'staging folder removed');
      assert.deepEqual(fs.readdirSync(r.parent), []);
    });
  }

  it('process.exit() mid-write removes it too', async () => {
    const r = await runWriter(undefined, 'exit');
    assert.equal(r.code, 3);
    assert.deepEqual(fs.readdirSync(r.parent), []);
  });
});
