// Interrupted writes (issue #8): Ctrl-C or SIGTERM during `prune` leaves no staging folder and exits 130 /
// 143; what a SIGKILL (or power loss) leaves is removed by the next run that writes beside it. The real CLI
// on a random model (~200 MB), signalled while its process group is held (SIGSTOP) right after the staging
// folder appears, so the write is still ahead whatever the machine's load.
import * as assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { writeRandomCheckpoint } from '../../src/devtools/randomCheckpoint';
import { isStagingName, STAGING_MARKER } from '../../src/engine/surgery/staleStaging';
import { type WriterIdentity, writerState } from '../../src/engine/surgery/writerIdentity';
import { cliBundle } from '../support/paths';

const run = promisify(execFile);
let tmp: string;
let model: string;
let data: string;
let n = 0;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-cli-interrupt-'));
  model = path.join(tmp, 'model');
  // 8 experts x 2 layers x 3 x 256 x 4096 float32 = 200 MB of experts: the pruned write takes a while.
  await writeRandomCheckpoint(model, { hiddenSize: 256, numLayers: 2, numHeads: 4, numKvHeads: 4, numExperts: 8, topK: 2, intermediateSize: 4096, vocabSize: 512, contextLength: 256, seed: 5, tokenizerCorpus: '', merges: 0, plantedRouting: false });
  data = path.join(tmp, 'calib.txt');
  fs.writeFileSync(data, 'Experts are chosen per token by the router. '.repeat(8));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function pruneArgs(out: string): string[] {
  return [cliBundle, 'prune', '--model', model, '--data', data, '--method', 'frequency', '--keep', '6', '--no-eval', '--chunk', '32', '--out', out];
}

/** A fresh folder for the output; staging folders appear beside the output, i.e. in it. */
function parentDir(): string {
  const d = path.join(tmp, `run${n++}`);
  fs.mkdirSync(d);
  return d;
}

interface Started {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** The CLI as its own process group (as a shell runs a foreground job), so the group can be signalled. */
function start(out: string): Started {
  const child = spawn(process.execPath, pruneArgs(out), { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return { child, exited };
}

function stagingIn(parent: string): string[] {
  return fs.readdirSync(parent).filter(isStagingName).map((f) => path.join(parent, f));
}

/** The writer named by a staging folder's marker, once the marker is complete. */
function markerOf(dir: string): WriterIdentity | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(dir, STAGING_MARKER), 'utf8')) as { writer: WriterIdentity }).writer;
  } catch {
    return undefined; // not written yet
  }
}

/**
 * Resolves as soon as the staging folder exists with its marker (the whole write still ahead), with the
 * CLI's process group stopped (SIGSTOP) so the write cannot finish before the test's signal is sent;
 * `signal` sends it and resumes the group. Rejects if the CLI exits first.
 */
async function writing(parent: string, s: Started): Promise<{ staging: string; writer: WriterIdentity; signal: (send: () => void) => void }> {
  let exited = false;
  void s.exited.then(() => (exited = true));
  for (;;) {
    const staging = stagingIn(parent).find((d) => markerOf(d) !== undefined);
    if (staging) {
      process.kill(-s.child.pid!, 'SIGSTOP');
      return {
        staging,
        writer: markerOf(staging)!,
        signal: (send) => {
          send();
          process.kill(-s.child.pid!, 'SIGCONT');
        },
      };
    }
    if (exited) {
      const r = await s.exited;
      throw new Error(`the CLI exited (${r.code ?? r.signal}) before its staging folder appeared: ${r.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe('interrupted prune', () => {
  it('Ctrl-C (SIGINT to the process group, as a terminal sends it): exits 130 and leaves nothing', async () => {
    const parent = parentDir();
    const out = path.join(parent, 'pruned');
    const s = start(out);
    const w = await writing(parent, s);
    assert.ok(w.writer.pid === s.child.pid || w.writer.ppid === s.child.pid, 'the marker names the CLI or its engine process');
    w.signal(() => process.kill(-s.child.pid!, 'SIGINT'));
    const r = await s.exited;
    assert.equal(r.code, 130, r.stderr);
    assert.deepEqual(fs.readdirSync(parent), [], 'no staging folder, no output');
  });

  it('SIGTERM to the CLI alone (as `kill PID` or a supervisor sends it): exits 143 and leaves nothing', async () => {
    const parent = parentDir();
    const s = start(path.join(parent, 'pruned'));
    const w = await writing(parent, s);
    w.signal(() => s.child.kill('SIGTERM'));
    const r = await s.exited;
    assert.equal(r.code, 143, r.stderr);
    assert.deepEqual(fs.readdirSync(parent), []);
  });

  it('SIGKILL of the CLI alone: its engine process notices, removes its staging folder and exits', { timeout: 120_000 }, async () => {
    const parent = parentDir();
    const s = start(path.join(parent, 'pruned'));
    const w = await writing(parent, s);
    w.signal(() => s.child.kill('SIGKILL'));
    await s.exited;
    while (writerState(w.writer) === 'alive') await new Promise((r) => setTimeout(r, 10)); // the orphaned engine exits on its own
    assert.deepEqual(fs.readdirSync(parent), [], 'the engine removed its staging folder before exiting');
  });

  it('SIGKILL of everything (as a power loss): the folder stays, and the next prune beside it removes it and says so', async () => {
    const parent = parentDir();
    const s = start(path.join(parent, 'first'));
    const { staging, signal } = await writing(parent, s);
    signal(() => process.kill(-s.child.pid!, 'SIGKILL'));
    const r = await s.exited;
    assert.equal(r.signal, 'SIGKILL');
    assert.deepEqual(stagingIn(parent), [staging], 'a SIGKILL cannot be cleaned up after by the killed process');

    const second = path.join(parent, 'second');
    const { stdout } = await run(process.execPath, pruneArgs(second), { maxBuffer: 16 * 1024 * 1024 });
    assert.ok(stdout.includes(`removed ${staging}, left behind by an earlier write that was killed`), stdout);
    assert.deepEqual(fs.readdirSync(parent), ['second']);
    assert.ok(fs.existsSync(path.join(second, 'model.safetensors')));
  });
});
