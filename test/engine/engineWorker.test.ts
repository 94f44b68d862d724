// The real engine in its worker (dist/engineWorker.js) through the client the extension and CLI use.
import * as assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import * as fs from 'node:fs';
import { planPrune } from '../../src/engine/experts/planPrune';
import { MoeEngine } from '../../src/engine/moeEngine';
import { EngineClient } from '../../src/host/engineClient';
import { MoeError } from '../../src/protocol/moeError';
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

  it('gives the same results as the engine in-process, with typed arrays transferred', async () => {
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

  it('errors come back as data and the worker keeps serving', async () => {
    await assert.rejects(client.request('load', { modelDir: '/nonexistent/model' }), (e: unknown) => e instanceof MoeError && e.code === 'E_MODEL_DIR' && e.file === '/nonexistent/model');
    await assert.rejects(client.request('forward', { input: { text: 'x' }, capture: { routing: false, hidden: false, logits: false } }), (e: unknown) => e instanceof MoeError && e.code === 'E_NO_MODEL');
    const info = await client.request('load', { modelDir: fixture('olmoe') });
    assert.equal(info.modelType, 'olmoe');
  });

  it('a killed worker rejects the pending request; the next request reloads the model in a fresh worker', async () => {
    await client.request('load', { modelDir: fixture('granitemoe') });
    const pending = client.request('forward', { input: { ids: Array.from({ length: 200 }, (_, i) => i % 200) }, capture: { routing: true, hidden: true, logits: true } });
    client.kill('test');
    await assert.rejects(pending, (e: unknown) => e instanceof MoeError && (e.code === 'E_CANCELLED' || e.code === 'E_WORKER'));
    const { result } = await client.request('forward', { input: { ids: [1, 2, 3] }, capture: { routing: true, hidden: false, logits: false } });
    assert.equal(result.routing.length, 3, 'granitemoe reloaded: 3 MoE layers');
  });

  it("the host's event loop stays responsive while the worker annotates a long prompt", async (t) => {
    await client.request('load', { modelDir: demoModel });
    const text = 'Tokens are routed to experts; the host must not notice. '.repeat(60);
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    const { tokens } = await client.request('forward', { input: { text }, capture: { routing: true, hidden: false, logits: true } });
    h.disable();
    const maxStallMs = h.max / 1e6;
    t.diagnostic(`${tokens.length} tokens; longest event-loop stall ${maxStallMs.toFixed(1)} ms`);
    assert.ok(tokens.length > 1000, `long prompt: ${tokens.length} tokens`);
    assert.ok(maxStallMs < 50, `longest event-loop stall ${maxStallMs.toFixed(1)} ms`);
  });
});
