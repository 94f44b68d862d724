// Ctrl-C during `moe-workbench finetune` as a terminal sends it (SIGINT to the whole process group, the
// engine process included): the first is a Stop — exit 0, the model trained so far written and recorded as
// stopped — and the second a cancel that writes nothing. --state FILE: a run stopped and resumed from its
// state ends byte-identical to the uninterrupted one; a resume with other settings is refused.
// Run: npm run build && node --import tsx --test test/cli/finetuneStopCli.test.ts
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { cliBundle, fixture } from '../support/paths';
import { cli } from '../support/runCli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-cli-finetune-stop-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const data = path.join(tmp, 'data');
fs.mkdirSync(data);
fs.writeFileSync(path.join(data, 'prose.txt'), 'The quick brown fox jumps over the lazy dog. '.repeat(30));
const base = ['finetune', '--model', fixture('olmoe'), '--data', data, '--seq-len', '48', '--lr', '1e-2', '--json'];

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI in its own process group; `onStepLine(n, interrupt)` is called for the n-th step line on
 * stdout, `onStderr(all, interrupt)` whenever stderr grows.
 */
function runInGroup(args: readonly string[], onStepLine: (n: number, interrupt: () => void) => void, onStderr?: (all: string, interrupt: () => void) => void): Promise<Run> {
  const child: ChildProcess = spawn(process.execPath, [cliBundle, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const interrupt = (): void => {
    process.kill(-child.pid!, 'SIGINT');
  };
  let stdout = '';
  let stderr = '';
  let lines = 0;
  child.stdout!.on('data', (b: Buffer) => {
    const before = stdout.split('\n').filter((l) => l.startsWith('{"step"')).length;
    stdout += b.toString('utf8');
    const now = stdout.split('\n').filter((l) => l.startsWith('{"step"') && l.endsWith('}')).length;
    for (let n = Math.max(before, lines) + 1; n <= now; n++) {
      lines = n;
      onStepLine(n, interrupt);
    }
  });
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString('utf8');
    onStderr?.(stderr, interrupt);
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

const summaryOf = (stdout: string): { stoppedAt?: number; steps: number } => (JSON.parse(stdout.trim().split('\n').at(-1)!) as { summary: { stoppedAt?: number; steps: number } }).summary;
const recordOf = (dir: string): { training: { stopped?: { afterStep: number; of: number }; resumedFrom?: { file: string; step: number }; history: unknown[] } } => JSON.parse(fs.readFileSync(path.join(dir, 'moe_workbench.json'), 'utf8'));

describe('finetune CLI: Ctrl-C and --state', () => {
  test('first Ctrl-C stops after the step in progress and writes the model trained so far (exit 0); a second cancels and writes nothing', async () => {
    const out = path.join(tmp, 'stopped');
    const r = await runInGroup([...base, '--steps', '200', '--out', out], (n, interrupt) => {
      if (n === 1) interrupt();
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /stopping after step \d+: the model trained so far is written; Ctrl-C again to cancel and write nothing/);
    const s = summaryOf(r.stdout);
    assert.ok(s.stoppedAt !== undefined && s.stoppedAt >= 1 && s.stoppedAt < 200, JSON.stringify(s));
    assert.equal(s.steps, s.stoppedAt);
    const rec = recordOf(out);
    assert.deepEqual(rec.training.stopped, { afterStep: s.stoppedAt, of: 200 });
    assert.equal(rec.training.history.length, s.stoppedAt);
    assert.match(fs.readFileSync(path.join(out, 'report.html'), 'utf8'), new RegExp(`Stopped by the user after step ${s.stoppedAt} of 200`));
    assert.ok(fs.existsSync(path.join(out, 'model.safetensors')));

    const cancelled = path.join(tmp, 'cancelled');
    // The second Ctrl-C goes as soon as the CLI has taken the first (it says "stopping"), so it lands while the
    // stopped run still trains, evaluates or writes — not after it has finished, as waiting for a later step
    // line could on a fast step.
    let again = false;
    const c = await runInGroup(
      [...base, '--steps', '200', '--out', cancelled],
      (n, interrupt) => {
        if (n === 1) interrupt();
      },
      (all, interrupt) => {
        if (!again && /stopping after step/.test(all)) {
          again = true;
          interrupt();
        }
      },
    );
    assert.equal(c.code, 130, c.stderr);
    assert.match(c.stderr, /interrupted: cancelling/);
    assert.equal(fs.existsSync(cancelled), false, 'a cancel writes nothing');
    assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.startsWith('.') || n.includes('cancelled')), [], 'nothing half-written beside it');
  });

  test('--state: stopped, then resumed from its state, the run ends byte-identical to the uninterrupted one; other settings are refused', async () => {
    const steps = ['--steps', '40'];
    const whole = path.join(tmp, 'whole');
    const u = await cli(...base, ...steps, '--out', whole);
    assert.equal(u.code, 0, u.stderr);

    const state = path.join(tmp, 'run.state.safetensors');
    const first = path.join(tmp, 'first');
    const a = await runInGroup([...base, ...steps, '--state', state, '--out', first], (n, interrupt) => {
      if (n === 1) interrupt();
    });
    assert.equal(a.code, 0, a.stderr);
    const k = summaryOf(a.stdout).stoppedAt;
    assert.ok(k !== undefined && k >= 1 && k < 40, `stopped at ${k}`);
    assert.ok(fs.existsSync(state), 'the state was saved when the loop ended');

    const refused = await cli(...base, '--steps', '40', '--lr', '2e-2', '--state', state, '--out', path.join(tmp, 'other'));
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /was saved by a run with other data or settings/);
    assert.equal(fs.existsSync(path.join(tmp, 'other')), false);

    const rest = path.join(tmp, 'rest');
    const b = await cli(...base, ...steps, '--state', state, '--out', rest);
    assert.equal(b.code, 0, b.stderr);
    const s = summaryOf(b.stdout);
    assert.equal(s.stoppedAt, undefined);
    assert.equal(s.steps, 40);
    const rec = recordOf(rest);
    assert.deepEqual(rec.training.resumedFrom, { file: state, step: k });
    assert.equal(rec.training.history.length, 40);
    assert.ok(fs.readFileSync(path.join(rest, 'model.safetensors')).equals(fs.readFileSync(path.join(whole, 'model.safetensors'))), `stopped at ${k} and resumed = uninterrupted, byte for byte`);
  });
});
