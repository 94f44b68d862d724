// EngineClient against a scripted engine (test/fixtures/workers/scriptedWorker.ts) served by the real
// engine loop in a child process. The fixture is bundled with esbuild first: on Node 20 a process started with
// `execArgv: ['--import', 'tsx']` still fails on a .ts entry (ERR_UNKNOWN_FILE_EXTENSION), and a bundle
// is also what production runs (dist/engineWorker.js).
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { fork } from 'node:child_process';
import { build } from 'esbuild';
import { EngineClient, type EngineClientOptions, type EngineState } from '../../src/host/engineClient';
import type { Progress, TokenSpan, WorkerToHost } from '../../src/protocol/engineProtocol';
import { MoeError, type MoeErrorCode } from '../../src/protocol/moeError';
import type { Stats } from '../fixtures/workers/scriptedWorker';

let dir: string;
let workerPath: string;
let modelDir: string;
const clients: EngineClient[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moe-engine-client-'));
  workerPath = join(dir, 'scriptedWorker.js');
  modelDir = join(dir, 'tiny-model');
  mkdirSync(modelDir);
  await build({ entryPoints: [join(__dirname, '../fixtures/workers/scriptedWorker.ts')], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: workerPath, logLevel: 'silent' });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** A client on the scripted worker; `execArgv: []` keeps the test runner's `--import tsx` out of it. */
function client(opts: Partial<EngineClientOptions> = {}): EngineClient {
  const c = new EngineClient({ workerPath, execArgv: [], ...opts });
  clients.push(c);
  return c;
}

const tokenize = (c: EngineClient, text: string, opts?: Parameters<EngineClient['request']>[2]): Promise<TokenSpan[]> => c.request('tokenize', { text }, opts);
const stats = async (c: EngineClient): Promise<Stats> => (await c.request('inspect', {})) as unknown as Stats;
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function rejectsWith(p: Promise<unknown>, code: MoeErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof MoeError, `expected a MoeError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

/** Counts how often a promise settles (always at most once for a real Promise) and records how. */
function track<T>(p: Promise<T>): { settled: () => number; outcome: Promise<'ok' | MoeErrorCode> } {
  let n = 0;
  const outcome = p.then(
    () => {
      n++;
      return 'ok' as const;
    },
    (e: MoeError) => {
      n++;
      return e.code;
    },
  );
  return { settled: () => n, outcome };
}

describe('EngineClient', () => {
  it('round-trips a forward result with its typed arrays intact', async () => {
    const states: EngineState[] = [];
    const c = client({ onStateChange: (s) => states.push(s) });
    assert.equal(c.state, 'stopped');
    const { result } = await c.request('forward', { input: { text: 'hi' }, capture: { routing: true, hidden: false, logits: false } });
    assert.ok(result.logprobs instanceof Float32Array);
    assert.deepEqual([...result.logprobs], [-0.5, -1.25, -3]);
    assert.ok(result.ids instanceof Int32Array);
    assert.ok(result.routing[0]!.routerLogits.data instanceof Float32Array);
    assert.equal(result.routing[0]!.routerLogits.cols, 2);
    assert.ok(result.routing[0]!.experts.data instanceof Int32Array);
    assert.deepEqual([...result.routing[0]!.experts.data], [0, 1, 0, 1]);
    assert.equal(c.state, 'idle');
    assert.deepEqual(states.slice(0, 2), ['starting', 'busy']);
    assert.equal(states.at(-1), 'idle');
  });

  it('rethrows engine errors as MoeError with code and file', async () => {
    const c = client();
    await rejectsWith(tokenize(c, 'throw'), 'E_TOKENIZER', /scripted tokenizer failure/);
    const e = await tokenize(c, 'throw').catch((x: unknown) => x);
    assert.ok(e instanceof MoeError);
    assert.equal(e.file, '/models/tiny/tokenizer.json');
    await rejectsWith(tokenize(c, 'throw-plain'), 'E_INTERNAL', /scripted plain failure/);
    await rejectsWith(c.request('load', { modelDir: join(dir, 'nope') }), 'E_MODEL_DIR');
    assert.equal((await tokenize(c, 'still alive'))[0]!.text, 'still alive');
  });

  it('delivers progress in order, before the result', async () => {
    const c = client();
    const events: string[] = [];
    const spans = await tokenize(c, 'progress:5', { onProgress: (p: Progress) => events.push(`${p.done}/${p.total}`) });
    events.push('result');
    assert.equal(spans[0]!.text, 'progress:5');
    assert.deepEqual(events, ['1/5', '2/5', '3/5', '4/5', '5/5', 'result']);
  });

  it('survives a throwing progress listener and a stray rejection in the engine', async () => {
    const c = client();
    const spans = await tokenize(c, 'progress:2', {
      onProgress: () => {
        throw new Error('listener bug');
      },
    });
    assert.equal(spans[0]!.text, 'progress:2');
    const earlier = await stats(c);
    await tokenize(c, 'stray-rejection');
    assert.equal((await stats(c)).pid, earlier.pid);
  });

  it('runs queued requests one at a time in arrival order', async () => {
    const c = client();
    const texts = ['sleep:30', 'a', 'sleep:5', 'b', 'c'];
    const results = await Promise.all(texts.map((t) => tokenize(c, t)));
    assert.deepEqual(
      results.map((r) => r[0]!.id),
      [1, 2, 3, 4, 5],
    );
    assert.deepEqual((await stats(c)).started, texts);
  });

  it('cancels via AbortSignal: already aborted, queued (skipped) and running (stopped), each exactly once', async () => {
    const c = client();
    await rejectsWith(tokenize(c, 'x', { signal: AbortSignal.abort() }), 'E_CANCELLED');
    assert.equal(c.state, 'stopped', 'an already aborted request must not start the engine');

    const queued = new AbortController();
    const first = tokenize(c, 'sleep:100');
    const second = track(tokenize(c, 'queued', { signal: queued.signal }));
    queued.abort();
    assert.equal(await second.outcome, 'E_CANCELLED');
    await first;

    const running = new AbortController();
    const t0 = Date.now();
    const long = track(tokenize(c, 'sleep:5000', { signal: running.signal }));
    setTimeout(() => running.abort(), 50);
    assert.equal(await long.outcome, 'E_CANCELLED');
    // The worker stopped the sleep, so the next request is not stuck behind it.
    await tokenize(c, 'after');
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);

    const stubborn = new AbortController();
    const late = track(tokenize(c, 'stubborn:100', { signal: stubborn.signal }));
    setTimeout(() => stubborn.abort(), 20);
    assert.equal(await late.outcome, 'E_CANCELLED');
    await delay(150); // the worker's late answer for it arrives now and must be dropped
    assert.deepEqual((await stats(c)).started, ['sleep:100', 'sleep:5000', 'after', 'stubborn:100']);
    assert.equal(second.settled() + long.settled() + late.settled(), 3);
  });

  it('times out (per request and by default) and cancels the work in the worker', async () => {
    const c = client({ requestTimeoutMs: 80 });
    await rejectsWith(tokenize(c, 'sleep:5000', { timeoutMs: 40 }), 'E_TIMEOUT', /timed out after 40 ms/);
    await rejectsWith(tokenize(c, 'sleep:5000'), 'E_TIMEOUT', /after 80 ms/);
    const t0 = Date.now();
    await tokenize(c, 'quick', { timeoutMs: 0 });
    assert.ok(Date.now() - t0 < 500, 'the timed-out work should have been cancelled in the worker');
  });

  it('rejects every pending request when the worker crashes, then restarts with the model reloaded', async () => {
    const states: EngineState[] = [];
    const c = client({ onStateChange: (s) => states.push(s) });
    await c.request('load', { modelDir });
    const first = await stats(c);
    // The first crashes after 50 ms; the rest are queued behind it and never run.
    const inFlight = ['crash-after:50', 'sleep:10', 'queued-1', 'queued-2'].map((t) => track(tokenize(c, t)));
    assert.deepEqual(await Promise.all(inFlight.map((p) => p.outcome)), ['E_WORKER', 'E_WORKER', 'E_WORKER', 'E_WORKER']);
    assert.ok(inFlight.every((p) => p.settled() === 1));
    assert.equal(c.state, 'crashed');
    assert.equal(states.at(-1), 'crashed');

    const fresh = await stats(c);
    assert.notEqual(fresh.pid, first.pid);
    assert.equal(fresh.loads, 1, 'the model is loaded again before the first request');
    assert.equal(fresh.modelDir, modelDir);
    assert.deepEqual(fresh.started, []);
  });

  it('rejects all in-flight requests with a clear E_WORKER error naming the exit code and cause', async () => {
    const c = client();
    await tokenize(c, 'warm up');
    const ps = [tokenize(c, 'crash'), tokenize(c, 'a'), tokenize(c, 'sleep:10'), c.request('inspect', {})];
    const exact = /^the engine process stopped unexpectedly: it exited with code 3; the request was not completed\. The next request starts a fresh engine\.$/;
    await Promise.all(ps.map((p) => rejectsWith(p, 'E_WORKER', exact)));

    const c2 = client();
    await rejectsWith(tokenize(c2, 'uncaught'), 'E_WORKER', /exited with code 1 after printing "Error: scripted uncaught exception"; the request was not completed/);
    assert.equal((await tokenize(c2, 'works'))[0]!.text, 'works');
  });

  it('kill() rejects pending requests and the next request starts a fresh engine with the model reloaded', async () => {
    const c = client();
    await c.request('load', { modelDir });
    const earlier = await stats(c);
    const pending = [tokenize(c, 'sleep:5000'), tokenize(c, 'queued')];
    c.kill('user stopped it');
    await Promise.all(pending.map((p) => rejectsWith(p, 'E_CANCELLED', /engine was stopped \(user stopped it\)/)));
    assert.equal(c.state, 'stopped');
    const later = await stats(c);
    assert.notEqual(later.pid, earlier.pid);
    assert.equal(later.loads, 1);
    assert.equal(later.modelDir, modelDir);
  });

  it('does not reload first when the request is itself a load or unload, and forgets the model after unload', async () => {
    const c = client();
    await c.request('load', { modelDir });
    c.kill();
    await c.request('load', { modelDir });
    assert.equal((await stats(c)).loads, 1);
    await c.request('unload', {});
    c.kill();
    const s = await stats(c);
    assert.equal(s.loads, 0);
    assert.equal(s.modelDir, null);
  });

  it('rejects with the reload error when the model cannot be reloaded, then stops trying it', async () => {
    const c = client();
    const gone = join(dir, 'deleted-model');
    mkdirSync(gone);
    await c.request('load', { modelDir: gone });
    rmSync(gone, { recursive: true });
    c.kill();
    const waiting = [tokenize(c, 'a'), tokenize(c, 'b')];
    await Promise.all(waiting.map((p) => rejectsWith(p, 'E_MODEL_DIR', /reloading the model after the engine restarted failed: model folder not found/)));
    const s = await stats(c);
    assert.equal(s.modelDir, null);
    assert.deepEqual(s.started, [], 'requests waiting on a failed reload never run');
  });

  it('caps crash restarts within a minute', async () => {
    const c = client({ maxRestarts: 1 });
    await rejectsWith(tokenize(c, 'crash'), 'E_WORKER', /The next request starts a fresh engine/);
    await rejectsWith(tokenize(c, 'crash'), 'E_WORKER', /crashed 2 times within a minute, so it will not be restarted automatically/);
    await rejectsWith(tokenize(c, 'fine'), 'E_WORKER', /crashed 2 times within a minute, more than the 1 automatic restarts allowed/);
    assert.equal(c.state, 'crashed');
  });

  it('reports a worker that cannot start as E_WORKER', async () => {
    const c = client({ workerPath: join(dir, 'missing-worker.js') });
    await rejectsWith(tokenize(c, 'x'), 'E_WORKER', /stopped unexpectedly: it exited with code 1 after printing "Error: Cannot find module/);
  });

  it('dispose() rejects pending requests, stops the worker and refuses later requests', async () => {
    const c = client();
    const pending = [track(tokenize(c, 'sleep:5000')), track(tokenize(c, 'queued'))];
    await delay(20);
    await c.dispose();
    for (const p of pending) assert.equal(await p.outcome, 'E_CANCELLED');
    assert.equal(c.state, 'stopped');
    await rejectsWith(tokenize(c, 'late'), 'E_CANCELLED', /engine client disposed/);
    await c.dispose(); // idempotent
    assert.ok(pending.every((p) => p.settled() === 1));
  });

  it('shuts an idle worker down and restarts it transparently, model included', async () => {
    const states: EngineState[] = [];
    const c = client({ idleShutdownMs: 60, onStateChange: (s) => states.push(s) });
    await c.request('load', { modelDir });
    const earlier = await stats(c);
    await delay(150);
    assert.equal(c.state, 'stopped');
    const later = await stats(c);
    assert.notEqual(later.pid, earlier.pid);
    assert.equal(later.loads, 1);
    assert.equal(later.modelDir, modelDir);
    assert.deepEqual(states.slice(0, 6), ['starting', 'busy', 'idle', 'busy', 'idle', 'stopped']);
  });

  it('settles every request exactly once through a storm of aborts, timeouts and a crash', async () => {
    const c = client();
    const all: ReturnType<typeof track>[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 12; i++) {
        const ac = new AbortController();
        // i = 8 is never aborted nor timed out, so its crash happens.
        const text = i === 8 && round === 1 ? 'crash-after:30' : i % 3 === 0 ? 'stubborn:15' : `sleep:${5 + (i % 4) * 5}`;
        all.push(track(tokenize(c, text, { signal: ac.signal, timeoutMs: i % 4 === 1 ? 10 : 0 })));
        if (i % 5 === 2) setTimeout(() => ac.abort(), i * 3);
      }
    }
    const outcomes = await Promise.all(all.map((p) => p.outcome));
    await delay(100); // late answers from the worker for abandoned ids arrive now
    assert.ok(all.every((p) => p.settled() === 1));
    assert.ok(outcomes.includes('ok'));
    assert.ok(outcomes.includes('E_CANCELLED'));
    assert.ok(outcomes.includes('E_TIMEOUT'));
    assert.ok(outcomes.includes('E_WORKER'));
    assert.equal((await tokenize(c, 'calm'))[0]!.text, 'calm');
    assert.equal(c.state, 'idle');
  });
});

describe('engine loop', () => {
  it('posts ready, then exactly one result or error per request id, whatever is cancelled', async () => {
    const w = fork(workerPath, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    try {
      const answers = new Map<number, string[]>();
      let ready = false;
      const done = new Promise<void>((resolve) => {
        w.on('message', (m: WorkerToHost) => {
          if (m.kind === 'ready') ready = true;
          else if (m.kind !== 'progress') {
            answers.set(m.id, [...(answers.get(m.id) ?? []), m.kind === 'error' ? m.error.code : 'ok']);
            // 1 answered means 3 (2 was skipped) is running now: it ignores the signal and answers normally.
            if (m.id === 1) w.send({ kind: 'cancel', id: 3 });
            if (m.id === 99) resolve();
          }
        });
      });
      const send = (id: number, text: string): void => void w.send({ kind: 'request', id, method: 'tokenize', params: { text } });
      send(1, 'sleep:50');
      send(2, 'queued');
      send(3, 'stubborn:20');
      send(4, 'throw');
      w.send({ kind: 'cancel', id: 2 }); // queued: skipped with E_CANCELLED
      w.send({ kind: 'cancel', id: 1 }); // running: stopped
      w.send({ kind: 'cancel', id: 77 }); // unknown: ignored
      w.send({ kind: 'bogus' }); // logged, not fatal
      send(99, 'last');
      await done;
      w.send({ kind: 'cancel', id: 99 }); // after its answer: ignored
      await delay(20);
      assert.ok(ready);
      assert.deepEqual(Object.fromEntries(answers), { 1: ['E_CANCELLED'], 2: ['E_CANCELLED'], 3: ['ok'], 4: ['E_TOKENIZER'], 99: ['ok'] });
    } finally {
      w.kill('SIGKILL');
    }
  });

  it('a stop for a queued job marks it: it starts stopped and answers; a stop for an unknown id is ignored', async () => {
    const w = fork(workerPath, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    try {
      const answers = new Map<number, unknown>();
      const done = new Promise<void>((resolve) => {
        w.on('message', (m: WorkerToHost) => {
          if (m.kind === 'result') answers.set(m.id, m.result);
          else if (m.kind === 'error') answers.set(m.id, m.error.code);
          if (answers.size === 3) resolve();
        });
      });
      w.send({ kind: 'request', id: 1, method: 'tokenize', params: { text: 'sleep:50' } });
      w.send({ kind: 'request', id: 2, method: 'profile', params: { data: [], chunkTokens: 5 } });
      w.send({ kind: 'request', id: 3, method: 'profile', params: { data: [], chunkTokens: 2 } });
      w.send({ kind: 'stop', id: 2 }); // queued behind 1
      w.send({ kind: 'stop', id: 42 }); // unknown: ignored
      await done;
      assert.deepEqual((answers.get(2) as { file: string }).file, 'steps:0');
      assert.deepEqual((answers.get(3) as { file: string }).file, 'steps:2');
    } finally {
      w.kill('SIGKILL');
    }
  });

  it('exits by itself when the host goes away', async () => {
    const w = fork(workerPath, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    await new Promise<void>((resolve) => w.once('message', () => resolve()));
    const exited = new Promise<number | null>((resolve) => w.once('exit', (code) => resolve(code)));
    w.disconnect();
    assert.equal(await exited, 0);
  });
});

describe('engine scheduling', () => {
  const profile = (c: EngineClient, steps: number, opts?: Parameters<EngineClient['request']>[2]): Promise<unknown> =>
    c.request('profile', { data: [], chunkTokens: steps }, opts);

  it('runs queries that arrive during a job while it pauses between steps, and tells them why they wait', async () => {
    const c = client();
    await tokenize(c, 'warm up'); // the engine is running, so the job starts before the query arrives
    const job = profile(c, 20);
    await delay(60);
    const waiting: string[] = [];
    const spans = await tokenize(c, 'edit', { onProgress: (p) => waiting.push(`${p.stage}: ${p.message ?? ''}`) });
    assert.equal(spans[0]!.text, 'edit');
    await job;
    const { started } = await stats(c);
    const at = started.indexOf('edit');
    assert.ok(at > started.indexOf('step:1') && at < started.length - 1, `the query ran inside the job, not before or after it: ${started.join(' ')}`);
    assert.deepEqual(waiting, ['queued: waiting for profile to finish its current step']);
  });

  it('takes interactive queries before background ones, in arrival order within each', async () => {
    const c = client();
    await tokenize(c, 'warm up');
    const first = tokenize(c, 'sleep:50');
    const rest = [
      tokenize(c, 'bg-1', { priority: 'background' }),
      tokenize(c, 'bg-2', { priority: 'background' }),
      tokenize(c, 'fg-1'),
      tokenize(c, 'fg-2', { priority: 'interactive' }),
    ];
    await Promise.all([first, ...rest]);
    assert.deepEqual((await stats(c)).started, ['warm up', 'sleep:50', 'fg-1', 'fg-2', 'bg-1', 'bg-2']);
  });

  it('never runs a query past a queued load: it waits for the job and the load, in order', async () => {
    const c = client();
    const job = profile(c, 5);
    await delay(15);
    const load = c.request('load', { modelDir });
    const why: string[] = [];
    const after = tokenize(c, 'after-load', { onProgress: (p) => why.push(p.message ?? '') });
    await Promise.all([job, load, after]);
    const s = await stats(c);
    assert.deepEqual(s.started.slice(-2), ['step:5', 'after-load']);
    assert.equal(s.modelDir, modelDir);
    assert.deepEqual(why, ['waiting for profile to finish its current step']);
  });

  it('stops a job (finish): it ends after its current step and answers normally; a cancel after a stop still cancels', async () => {
    const c = client();
    await tokenize(c, 'warm up');
    const stop = new AbortController();
    const job = profile(c, 200, { finish: stop.signal, onProgress: () => undefined });
    await delay(60);
    stop.abort();
    const r = (await job) as { file: string };
    const taken = Number(/^steps:(\d+)$/.exec(r.file)?.[1]);
    assert.ok(taken >= 1 && taken < 200, `stopped early, after ${taken} steps`);
    const started = (await stats(c)).started.filter((s) => s.startsWith('step:'));
    assert.equal(started.at(-1), `step:${taken}`, 'no step ran after the one in progress');

    // Stopped before it was sent (already aborted): the engine starts it stopped, and it still answers.
    const early = (await profile(c, 5, { finish: AbortSignal.abort() })) as { file: string };
    assert.equal(early.file, 'steps:0');

    // Stop, then cancel: the cancel wins (E_CANCELLED), exactly once.
    const both = new AbortController();
    const later = new AbortController();
    const t = track(profile(c, 200, { finish: later.signal, signal: both.signal }));
    await delay(30);
    later.abort();
    both.abort();
    assert.equal(await t.outcome, 'E_CANCELLED');
    assert.equal(t.settled(), 1);
  });

  it('cancels a paused job between steps without losing the queries it let through', async () => {
    const c = client();
    const ac = new AbortController();
    const job = track(profile(c, 50, { signal: ac.signal }));
    await delay(40);
    const q = tokenize(c, 'during');
    ac.abort();
    assert.equal((await q)[0]!.text, 'during');
    assert.equal(await job.outcome, 'E_CANCELLED');
    assert.ok(!(await stats(c)).started.includes('step:50'));
  });
});

describe('engine faults', () => {
  it('a native abort inside the engine rejects its requests, leaves the host running, and the next request recovers', async () => {
    const c = client();
    await c.request('load', { modelDir });
    const before = await stats(c);
    const doomed = [tokenize(c, 'abort'), tokenize(c, 'queued behind it')];
    await Promise.all(doomed.map((p) => rejectsWith(p, 'E_WORKER', /killed by SIGABRT/)));
    const after = await stats(c);
    assert.notEqual(after.pid, before.pid);
    assert.equal(after.modelDir, modelDir, 'the model was reloaded into the new engine');
    assert.equal((await tokenize(c, 'alive'))[0]!.text, 'alive');
  });
});
