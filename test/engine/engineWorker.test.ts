// The real engine in its own process (dist/engineWorker.js) through the client the extension and CLI use.
import * as assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import * as fs from 'node:fs';
import { planPrune } from '../../src/engine/experts/planPrune';
import { MoeEngine } from '../../src/engine/moeEngine';
import { EngineClient } from '../../src/host/engineClient';
import { MoeError } from '../../src/protocol/moeError';
import { TEST_FAULT_ENV } from '../../src/engine/worker/testHooks';
import { fixture, repoRoot, workerBundle } from '../support/paths';
import { copyFixture, removeTempModels } from '../support/tempModel';
import * as os from 'node:os';
import * as path from 'node:path';

const demoModel = path.join(repoRoot, 'media', 'demo-model');

describe('engine worker', () => {
  let client: EngineClient;
  before(() => {
    // As in the extension: ONNX Runtime leaves one core to the host thread.
    client = new EngineClient({ workerPath: workerBundle, execArgv: [], workerData: { threads: Math.max(1, os.availableParallelism() - 1) } });
  });
  after(() => client.dispose());

  it('gives the same results as the engine in-process, with typed arrays intact', async () => {
    const info = await client.request('load', { modelDir: fixture('qwen3_moe') });
    assert.equal(info.modelType, 'qwen3_moe');
    const { tokens, result } = await client.request('forward', { input: { text: 'MoE routing' }, capture: { routing: true, hidden: false, logits: false } });
    assert.equal(tokens.length, 11);
    assert.ok(result.routing[0]!.routerLogits.data instanceof Float32Array);
    const local = await MoeEngine.load(fixture('qwen3_moe'));
    try {
      const ref = await local.forward(tokens.map((t) => t.id), { routing: true, hidden: false, logits: false });
      assert.deepEqual(Array.from(result.routing[1]!.experts.data), Array.from(ref.routing[1]!.experts.data));
      assert.deepEqual(Array.from(result.logprobs), Array.from(ref.logprobs));
    } finally {
      await local.dispose();
    }
  });

  it('a cancelled profile or prune leaves no file behind; progress reports tokens and ETA', async () => {
    const model = copyFixture('mixtral');
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-worker-profile-'));
    try {
      fs.writeFileSync(path.join(data, 'a.txt'), 'profiling text for the worker. '.repeat(40));
      await client.request('load', { modelDir: model });
      const ac = new AbortController();
      const messages: string[] = [];
      await assert.rejects(
        client.request('profile', { data: [data], chunkTokens: 64 }, { signal: ac.signal, onProgress: (p) => (messages.push(p.message ?? ''), ac.abort()) }),
        (e: unknown) => e instanceof MoeError && e.code === 'E_CANCELLED',
      );
      assert.match(messages[0]!, /^64 \/ 1,2\d\d tokens · \d+ tok\/s · ETA \d+ s$/);
      assert.ok(!fs.existsSync(path.join(model, 'moe-workbench-profiles')), 'nothing written');
      const { file, profile } = await client.request('profile', { data: [data], chunkTokens: 64 });
      assert.ok(file.startsWith(path.join(model, 'moe-workbench-profiles')));
      const out = path.join(data, 'pruned');
      const plan = planPrune(profile, { method: 'frequency', target: { kind: 'keep', keep: 4 }, protect: [] });
      const cancel = new AbortController();
      await assert.rejects(
        client.request('applyPlan', { plan, out, profileFile: file }, { signal: cancel.signal, onProgress: () => cancel.abort() }),
        (e: unknown) => e instanceof MoeError && e.code === 'E_CANCELLED',
      );
      // The client settles at once on cancel; the worker cleans up before it serves the next request.
      await client.request('inspect', {});
      assert.deepEqual(fs.readdirSync(data), ['a.txt'], 'no output or staging folder left');
    } finally {
      fs.rmSync(data, { recursive: true, force: true });
      removeTempModels();
    }
  });

  it('an annotation sent during a profile is answered between the profile\'s chunks, not after it', async () => {
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-worker-priority-'));
    try {
      fs.writeFileSync(path.join(data, 'a.txt'), 'a long calibration text for the profile. '.repeat(200));
      await client.request('load', { modelDir: fixture('mixtral') });
      const order: string[] = [];
      let annotation: Promise<unknown> | undefined;
      const why: string[] = [];
      const profile = client
        .request('profile', { data: [data], chunkTokens: 32, out: path.join(data, 'profile.json') }, {
          onProgress: (p) => {
            if (annotation !== undefined || p.stage !== 'profile') return;
            annotation = client
              .request('forward', { input: { text: 'while profiling' }, capture: { routing: true, hidden: false, logits: false } }, { onProgress: (q) => why.push(`${q.stage}: ${q.message ?? ''}`) })
              .then(() => order.push('annotation'));
          },
        })
        .then((r) => (order.push('profile'), r));
      const { profile: result } = await profile;
      await annotation;
      assert.ok(result.data.chunks > 10, `the profile has many chunks (${result.data.chunks})`);
      assert.deepEqual(order, ['annotation', 'profile']);
      assert.equal(why[0], 'queued: waiting for profile to finish its current step');
    } finally {
      fs.rmSync(data, { recursive: true, force: true });
    }
  });

  it('answers arrive as each request finishes, and a query sent then goes before the background ones still queued', async () => {
    await client.request('load', { modelDir: demoModel });
    const ids = Array.from({ length: 600 }, (_, i) => (i * 37 + 11) % 200);
    const capture = { routing: true, hidden: false, logits: false };
    const order: string[] = [];
    let probe: Promise<unknown> | undefined;
    const background = Array.from({ length: 8 }, (_, i) =>
      client.request('forward', { input: { ids }, capture }, { priority: 'background' }).then(() => {
        order.push(`bg${i}`);
        // The person edits as soon as the first pass shows: that annotation must not wait for the other seven.
        probe ??= client.request('forward', { input: { ids: ids.slice(0, 50) }, capture }).then(() => order.push('edit'));
      }),
    );
    await Promise.all(background);
    await probe;
    assert.ok(order.indexOf('edit') >= 1 && order.indexOf('edit') <= 3, `the edit's annotation came after ${order.indexOf('edit')} background ones: ${order.join(' ')}`);
  });

  it('errors come back as data and the worker keeps serving', async () => {
    const before = await client.request('inspect', {});
    await assert.rejects(client.request('load', { modelDir: '/nonexistent/model' }), (e: unknown) => e instanceof MoeError && e.code === 'E_MODEL_DIR' && e.file === '/nonexistent/model');
    assert.equal((await client.request('inspect', {})).path, before.path, 'a refused load keeps the model that was loaded');
    await client.request('unload', {});
    await assert.rejects(client.request('forward', { input: { text: 'x' }, capture: { routing: false, hidden: false, logits: false } }), (e: unknown) => e instanceof MoeError && e.code === 'E_NO_MODEL');
    const info = await client.request('load', { modelDir: fixture('olmoe') });
    assert.equal(info.modelType, 'olmoe');
  });

  it('an engine killed mid-run rejects the pending request, the host lives on, and the next request reloads the model in a fresh engine', async () => {
    await client.request('load', { modelDir: fixture('granitemoe') });
    let running!: () => void;
    const started = new Promise<void>((resolve) => (running = resolve));
    const pending = client.request('forward', { input: { ids: Array.from({ length: 200 }, (_, i) => i % 200) }, capture: { routing: true, hidden: true, logits: true } }, { onProgress: () => running() });
    await started; // inside the forward: the ONNX Runtime run is in flight
    client.kill('test');
    await assert.rejects(pending, (e: unknown) => e instanceof MoeError && e.code === 'E_CANCELLED');
    // A worker thread terminated mid-run took the whole process down 4–5 s later (Napi::Error, exit 134).
    await new Promise((r) => setTimeout(r, 6000));
    const { result } = await client.request('forward', { input: { ids: [1, 2, 3] }, capture: { routing: true, hidden: false, logits: false } });
    assert.equal(result.routing.length, 3, 'granitemoe reloaded: 3 MoE layers');
  });

  it('a native abort inside the engine mid-inference fails that request only; the host carries on and recovers', async () => {
    const flag = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'moe-fault-')), 'abort-once');
    fs.writeFileSync(flag, '');
    const faulty = new EngineClient({ workerPath: workerBundle, execArgv: [], env: { [TEST_FAULT_ENV]: `abort:forward@${flag}` } });
    try {
      await faulty.request('load', { modelDir: fixture('mixtral') });
      const input = { text: 'MoE routing' };
      const capture = { routing: true, hidden: false, logits: false };
      await assert.rejects(faulty.request('forward', { input, capture }), (e: unknown) => e instanceof MoeError && e.code === 'E_WORKER' && /killed by SIGABRT/.test(e.message));
      assert.equal(faulty.state, 'crashed');
      const { result } = await faulty.request('forward', { input, capture });
      const local = await MoeEngine.load(fixture('mixtral'));
      try {
        const ref = await local.forward(Array.from(result.ids), capture);
        assert.deepEqual(Array.from(result.routing[0]!.experts.data), Array.from(ref.routing[0]!.experts.data), 'the restarted engine reloaded the model and answers correctly');
      } finally {
        await local.dispose();
      }
    } finally {
      await faulty.dispose();
      fs.rmSync(path.dirname(flag), { recursive: true, force: true });
    }
  });

  it("the host's event loop keeps running while the engine annotates a long prompt", async (t) => {
    await client.request('load', { modelDir: demoModel });
    const text = 'Tokens are routed to experts; the host must not notice. '.repeat(60);
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    // Ticks of a 1 ms timer while the forward runs: the host is not blocked while the engine computes.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const t0 = performance.now();
    const { tokens } = await client.request('forward', { input: { text }, capture: { routing: true, hidden: false, logits: true } });
    const ms = performance.now() - t0;
    clearInterval(timer);
    h.disable();
    t.diagnostic(`${tokens.length} tokens in ${ms.toFixed(0)} ms; ${ticks} host timer ticks meanwhile; longest event-loop stall ${(h.max / 1e6).toFixed(1)} ms`);
    assert.ok(tokens.length > 1000, `long prompt: ${tokens.length} tokens`);
    assert.ok(ticks >= 10, `the host's timers ran ${ticks} times during a ${ms.toFixed(0)} ms forward`);
  });
});
