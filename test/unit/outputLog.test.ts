// The output channel's lines (issue #8, 4.10): model loads with path, time and size, load errors, every
// operation with its parameters, writes, evaluations, cancellations and failures — formatted in plain Node.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { describeCheckpoint } from '../../src/engine/modelInfo';
import { logModelStates } from '../../src/features/log/modelLoadLog';
import { operationParams } from '../../src/features/log/operationParams';
import { OutputLog, duration, formatEvaluation, formatModelLoaded, formatParams, formatWritten, timeStamp } from '../../src/features/log/outputLog';
import type { ModelState } from '../../src/features/model/modelManager';
import type { EvalReport, ExpertPlan } from '../../src/protocol/expertOps';
import type { ModelInfo } from '../../src/protocol/modelInfo';
import { MoeError } from '../../src/protocol/moeError';
import { FakeEmitter, fakeVscode, withFakeVscode } from '../support/fakeVscode';
import { fixture } from '../support/paths';

const { showOperationError } = withFakeVscode(() => require('../../src/features/operations/engineProgress') as typeof import('../../src/features/operations/engineProgress'));

/** A log whose clock reads 09:05:03.007 and whose lines are collected. */
function collect(): { log: OutputLog; lines: string[] } {
  const lines: string[] = [];
  return { log: new OutputLog((l) => lines.push(l), () => new Date(2026, 0, 2, 9, 5, 3, 7)), lines };
}

function mixtralInfo(): ModelInfo {
  const c = openCheckpoint(fixture('mixtral'));
  try {
    return describeCheckpoint(c);
  } finally {
    c.close();
  }
}

describe('output log formatting', () => {
  it('stamps every line with the time, and indents continuation lines', () => {
    const { log, lines } = collect();
    log.line('one');
    log.line('two\nthree');
    assert.deepEqual(lines, ['[09:05:03.007] one', '[09:05:03.007] two\n    three']);
    assert.equal(timeStamp(new Date(2026, 0, 2, 23, 59, 9, 45)), '23:59:09.045');
  });

  it('formats durations and parameters (paths with spaces stay one value)', () => {
    assert.equal(duration(1234), '1.2 s');
    assert.equal(duration(125_000), '2 min 05 s');
    assert.equal(duration(Number.NaN), '?');
    assert.equal(formatParams({ method: 'reap', keep: 6, out: '/w/my model', data: ['/a.txt', '/b c.md'], skipped: undefined, dry: false }), 'method=reap keep=6 out="/w/my model" data=[/a.txt, "/b c.md"] dry=false');
  });

  it('logs a model load with path, time, size, shape and parameter count (a real checkpoint)', () => {
    const info = mixtralInfo();
    const line = formatModelLoaded(info, 1530);
    assert.ok(line.startsWith(`model loaded: ${info.path} in 1.5 s · mixtral (8 experts × 2 MoE layers, top-2) · `), line);
    assert.match(line, /· [\d,]+ parameters · [\d.]+ (KiB|MiB) on disk \(/);
    assert.match(formatModelLoaded({ ...info, untrained: { note: 'x' } }, undefined), /^model loaded: \S+ · .* · untrained$/);
    assert.match(formatModelLoaded({ ...info, expertOrigins: { operation: 'prune', source: '/m/src', layers: [] } }, 10), /· pruned from \/m\/src$/);
  });

  it('logs what was written and what the evaluation found', () => {
    assert.equal(
      formatWritten({ dir: '/w/out', files: ['config.json', 'model.safetensors'], bytes: 3 * 1024 * 1024, removedStale: ['/w/.ckpt.partial-1'] }),
      'wrote /w/out: 2 files, 3.00 MiB (config.json, model.safetensors) · removed 1 stale staging folder(s)',
    );
    const side = (name: string, perplexity: number, bytesOnDisk: number) => ({ dir: `/w/${name}`, name, perplexity, bytesOnDisk, totalParams: 1, activeParams: 1, numExperts: 8 });
    const e: EvalReport = { tokens: 12345, chunks: 25, baseline: side('src', 12.3456, 2048 * 1024), candidate: side('out', 13.5, 1536 * 1024), top1Agreement: 0.9123, meanKl: 0.01234, runMs: 4200 };
    assert.equal(
      formatEvaluation(e),
      'evaluated out against src on 12,345 tokens (25 chunks) in 4.2 s: perplexity 12.346 → 13.500, top-1 agreement 91.2%, mean KL 0.0123 nats, size 2.00 MiB → 1.50 MiB',
    );
    assert.match(formatEvaluation({ ...e, document: { tokens: 300, changedPredictions: 7, routingChanged: [], perToken: [] } }), / · document: 7 of 300 predictions changed$/);
  });

  it('lists every parameter of a prune and a merge', () => {
    const plan = (operation: 'prune' | 'merge', parameters: ExpertPlan['parameters']): ExpertPlan => ({ operation, description: '', parameters, layers: [] });
    const base = { model: '/m/src', profile: '/m/src/moe-workbench-profiles/p.json', out: '/w/out', evalData: ['/d/held.txt'] };
    assert.equal(
      formatParams(operationParams({ ...base, plan: plan('prune', { method: 'reap', target: { kind: 'keep', keep: 6 }, protect: [{ layer: 0, expert: 3 }] }), document: 'file:///w/a.prompt' })),
      'model=/m/src method=reap target="keep 6 per layer" protect=[0:3] profile=/m/src/moe-workbench-profiles/p.json out=/w/out eval=[/d/held.txt] document=file:///w/a.prompt',
    );
    assert.equal(
      formatParams(operationParams({ ...base, evalData: [], plan: plan('prune', { method: 'ean', target: { kind: 'global', ratio: 0.25, minPerLayer: 2 }, protect: [] }) })),
      'model=/m/src method=ean target="prune 0.25 globally, min 2 per layer" profile=/m/src/moe-workbench-profiles/p.json out=/w/out eval=skipped',
    );
    assert.equal(formatParams(operationParams({ ...base, plan: plan('merge', { keep: 4 }) })), 'model=/m/src target="keep 4 per layer" profile=/m/src/moe-workbench-profiles/p.json out=/w/out eval=[/d/held.txt]');
  });

  it('logs operations, cancellations and failures', () => {
    const { log, lines } = collect();
    log.started('profile', { model: '/m/a', data: ['/d'], chunk: 512, maxTokens: undefined });
    log.done('profile', '100 tokens', 2500);
    log.cancelled('profiling a');
    log.failed('writing /w/out', 'E_IO', 'disk full');
    assert.deepEqual(lines.map((l) => l.slice(15)), ['profile: model=/m/a data=[/d] chunk=512', 'profile done in 2.5 s: 100 tokens', 'profiling a cancelled by the user', 'writing /w/out failed (E_IO): disk full']);
  });

  it('showOperationError logs a cancellation as such and an error with its code', () => {
    const { log, lines } = collect();
    showOperationError('profiling tiny', new MoeError('E_CANCELLED', 'cancelled'), log);
    showOperationError('writing /w/out', new MoeError('E_IO', 'disk full'), log);
    assert.deepEqual(lines.map((l) => l.slice(15)), ['profiling tiny cancelled by the user', 'writing /w/out failed (E_IO): disk full']);
    assert.deepEqual(fakeVscode.window.shown.slice(-2).map(([k]) => k), ['info', 'error'], 'the user still sees both');
  });
});

describe('model load log', () => {
  function setup() {
    const states = new FakeEmitter<ModelState>();
    const { log, lines } = collect();
    let now = 1000;
    logModelStates(states.event, log, () => now);
    return { states, lines: () => lines.map((l) => l.slice(15)), advance: (ms: number) => (now += ms) };
  }
  const info = (dir: string, extra: Partial<ModelInfo> = {}): ModelInfo => ({ ...mixtralInfo(), path: dir, ...extra });

  it('logs a load with its time, and its warnings', () => {
    const { states, lines, advance } = setup();
    const i = info('/m/a', { warnings: ['/m/a/moe_workbench.json is not valid JSON; expert ids are shown without their source ids'] });
    states.fire({ kind: 'loading', dir: '/m/a' });
    advance(1500);
    states.fire({ kind: 'ready', dir: '/m/a', info: i });
    const l = lines();
    assert.equal(l[0], 'loading model /m/a');
    assert.ok(l[1]!.startsWith('model loaded: /m/a in 1.5 s · mixtral'), l[1]);
    assert.equal(l[2], 'warning: /m/a/moe_workbench.json is not valid JSON; expert ids are shown without their source ids');
    assert.equal(l.length, 3);
  });

  it('logs a failed load with the error, a load that kept the previous model, and closing', () => {
    const { states, lines, advance } = setup();
    const a = info('/m/a');
    states.fire({ kind: 'loading', dir: '/m/a' });
    states.fire({ kind: 'ready', dir: '/m/a', info: a });
    states.fire({ kind: 'loading', dir: '/m/broken' });
    advance(200);
    states.fire({ kind: 'ready', dir: '/m/a', info: a, failedLoad: { dir: '/m/broken', message: 'config.json: num_hidden_layers must be an integer' } });
    states.fire({ kind: 'loading', dir: '/m/gone' });
    advance(300);
    states.fire({ kind: 'error', dir: '/m/gone', message: 'model folder not found: /m/gone' });
    states.fire({ kind: 'none' });
    states.fire({ kind: 'ready', dir: '/m/a', info: a });
    states.fire({ kind: 'none' });
    assert.deepEqual(lines().filter((l) => !l.startsWith('model loaded')), [
      'loading model /m/a',
      'loading model /m/broken',
      'model load failed: /m/broken after 0.2 s: config.json: num_hidden_layers must be an integer; still using /m/a',
      'loading model /m/gone',
      'model load failed: /m/gone after 0.3 s: model folder not found: /m/gone',
      'model closed',
    ]);
    assert.equal(lines().filter((l) => l.startsWith('model loaded')).length, 2, 'the kept model is not "loaded" again');
  });
});
